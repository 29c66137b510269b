namespace Sockeye.Tests.Infrastructure;

/// <summary>
/// A stream whose writes wait for the test, as on a pipe nobody reads until the test says: each write reports that it
/// began, then waits to be let through.
/// </summary>
internal sealed class GatedStream : MemoryStream
{
    private readonly SemaphoreSlim _entered = new(0);
    private readonly SemaphoreSlim _pass = new(0);

    /// <summary>Waits until a write has begun.</summary>
    public Task EnteredAsync() => _entered.WaitAsync(TestContext.Current.CancellationToken);

    /// <summary>Lets one write through.</summary>
    public void Pass() => _pass.Release();

    /// <summary>Lets every write through from now on.</summary>
    public void Open() => _pass.Release(int.MaxValue / 2);

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _entered.Release();

        // On the writer's thread, where the test's token does not flow: a test that never lets it through fails by its
        // timeout, and the writer's background thread waits on unseen.
        _pass.Wait();
        base.Write(buffer);
    }
}
