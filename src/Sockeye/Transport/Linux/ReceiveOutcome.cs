namespace Sockeye.Transport.Linux;

/// <summary>How a <see cref="LinuxReceiver.Receive"/> ended.</summary>
internal enum ReceiveOutcome
{
    /// <summary>Receiving goes on: the socket is empty (its next arrival is reported) or the input is full (it resumes receiving).</summary>
    Continue,

    /// <summary>The client ended its side (FIN): nothing more will arrive.</summary>
    ClientEnded,

    /// <summary>The socket reported an error: nothing more will arrive.</summary>
    Failed,
}
