using System.Diagnostics.CodeAnalysis;

namespace Sockeye.Messaging;

/// <summary>
/// A lock for a push queue's critical sections, which are a few instructions long and never block: one compare-and-swap
/// to enter and a plain store to leave, where <see cref="Monitor"/> and <see cref="Lock"/> also track their owner for
/// recursion (a broadcast enters once per member and message, and that bookkeeping was 8% of a fan-out server's time).
/// Contention spins briefly, then yields the processor to the holder.
/// </summary>
internal struct SpinGate
{
    private int _held;

    /// <summary>Enters; the scope's <c>Dispose</c> leaves. Not reentrant.</summary>
    /// <returns>The scope to dispose.</returns>
    [UnscopedRef]
    public Scope Enter()
    {
        if (Interlocked.CompareExchange(ref _held, 1, 0) != 0)
        {
            EnterContended();
        }

        return new Scope(ref _held);
    }

    private void EnterContended()
    {
        var spinner = default(SpinWait);
        do
        {
            spinner.SpinOnce();
        }
        while (Volatile.Read(ref _held) != 0 || Interlocked.CompareExchange(ref _held, 1, 0) != 0);
    }

    /// <summary>Held until disposed.</summary>
    public readonly ref struct Scope
    {
        private readonly ref int _held;

        public Scope(ref int held) => _held = ref held;

        public void Dispose() => Volatile.Write(ref _held, 0);
    }
}
