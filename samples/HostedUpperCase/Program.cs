using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Sockeye;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddSockeye<UpperCaseHandler>();    // endpoints and limits from appsettings.json
builder.Build().Run();

internal sealed class UpperCaseHandler : ConnectionHandler
{
    public override async Task OnConnectedAsync(Connection connection)
    {
        await using var input = connection.Transport.Input.AsStream();
        await using var output = connection.Transport.Output.AsStream();
        var buffer = new byte[4096];
        for (int read; (read = await input.ReadAsync(buffer)) > 0;)
        {
            Ascii.ToUpperInPlace(buffer.AsSpan(0, read), out _);
            await output.WriteAsync(buffer.AsMemory(0, read));
        }
    }
}
