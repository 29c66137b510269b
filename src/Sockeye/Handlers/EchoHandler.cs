namespace Sockeye.Handlers;

/// <summary>Sends every byte back as it arrives, until the client ends its side.</summary>
/// <remarks>
/// A byte stream has no message boundaries, so a graceful stop cannot tell an idle client from one in the
/// middle of a transfer: this handler serves until the client closes or the shutdown timeout aborts it.
/// </remarks>
public sealed class EchoHandler : ConnectionHandler
{
    /// <inheritdoc />
    public override async Task OnConnectedAsync(Connection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var input = connection.Transport.Input;
        var output = connection.Transport.Output;
        while (true)
        {
            var result = await input.ReadAsync().ConfigureAwait(false);
            var buffer = result.Buffer;
            if (!buffer.IsEmpty)
            {
                output.Write(buffer);
            }

            input.AdvanceTo(buffer.End);
            if (!buffer.IsEmpty && (await output.FlushAsync().ConfigureAwait(false)).IsCompleted)
            {
                return;
            }

            if (result.IsCompleted || result.IsCanceled)
            {
                return;
            }
        }
    }
}
