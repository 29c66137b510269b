using Microsoft.Extensions.Logging;
using Sockeye.Diagnostics;

namespace Sockeye.Protocols;

/// <summary>
/// Reads a listener's certificate files again when they change: a watch on their folders (which also sees the
/// symbolic link swap Kubernetes uses to update a mounted secret) and a check once a minute where watches miss changes.
/// A certificate that loads and differs from the current one goes to <c>onLoaded</c>; one that does not load is logged
/// and the current one stays, so a renewal written in two steps (certificate, then key) takes effect at the second.
/// </summary>
internal sealed class CertificateReloader : IDisposable
{
    private static readonly TimeSpan s_checkPeriod = TimeSpan.FromMinutes(1);

    private readonly CertificateSource _source;
    private readonly Action<TlsOptions> _onLoaded;
    private readonly ILogger _logger;
    private readonly List<FileSystemWatcher> _watchers = [];
    private readonly ITimer _timer;
    private readonly TimeProvider _timeProvider;
    private readonly Lock _lock = new();
    private string _thumbprint;
    private bool _disposed;

    public CertificateReloader(CertificateSource source, string thumbprint, Action<TlsOptions> onLoaded, ILogger logger, TimeProvider timeProvider)
    {
        _source = source;
        _thumbprint = thumbprint;
        _onLoaded = onLoaded;
        _logger = logger;
        _timeProvider = timeProvider;
        foreach (var folder in new[] { source.CertificatePath, source.KeyPath }.OfType<string>().Select(Path.GetDirectoryName).OfType<string>().Distinct())
        {
            var watcher = new FileSystemWatcher(folder)
            {
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            watcher.Changed += OnChanged;
            watcher.Created += OnChanged;
            watcher.Renamed += OnChanged;
            watcher.Deleted += OnChanged;
            watcher.EnableRaisingEvents = true;
            _watchers.Add(watcher);
        }

        _timer = timeProvider.CreateTimer(static state => ((CertificateReloader)state!).Check(), this, s_checkPeriod, s_checkPeriod);
    }

    /// <summary>Reads the files now; returns whether a new certificate is in use.</summary>
    public bool Check()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return false;
            }

            TlsOptions loaded;
            try
            {
                loaded = _source.Load();
            }
            catch (InvalidDataException ex)
            {
                Log.TlsCertificateReloadFailed(_logger, _source.ToString(), ex.Message);
                return false;
            }

            if (loaded.ServerCertificate.Thumbprint == _thumbprint)
            {
                loaded.ServerCertificate.Dispose();
                return false;
            }

            _thumbprint = loaded.ServerCertificate.Thumbprint;
            _onLoaded(loaded);
            LogLoaded(_logger, loaded, _source, _timeProvider.GetUtcNow());
            return true;
        }
    }

    /// <summary>
    /// Logs who the certificate names and when it expires: the two things an operator checks after a renewal. A
    /// certificate that has expired, is not valid yet, or expires within <see cref="ExpiryWarning"/> is a warning, not a
    /// refusal: clients will refuse it, but an operator may be mid-rotation, with the renewed files on their way.
    /// </summary>
    public static void LogLoaded(ILogger logger, TlsOptions options, CertificateSource source, DateTimeOffset now)
    {
        var certificate = options.ServerCertificate;
        var notBefore = certificate.NotBefore.ToUniversalTime();
        var notAfter = certificate.NotAfter.ToUniversalTime();
        var utcNow = now.UtcDateTime;
        if (notAfter < utcNow)
        {
            Log.TlsCertificateExpired(logger, certificate.Subject, certificate.Thumbprint, source.ToString(), notAfter);
        }
        else if (notBefore > utcNow)
        {
            Log.TlsCertificateNotYetValid(logger, certificate.Subject, certificate.Thumbprint, source.ToString(), notBefore);
        }
        else if (notAfter - utcNow < ExpiryWarning)
        {
            Log.TlsCertificateExpiresSoon(logger, certificate.Subject, certificate.Thumbprint, source.ToString(), notAfter);
        }
        else if (logger.IsEnabled(LogLevel.Information))
        {
#pragma warning disable CA1873 // Guarded by IsEnabled just above, which the analyzer does not follow.
            Log.TlsCertificateLoaded(logger, certificate.Subject, certificate.Thumbprint, source.ToString(), notAfter);
#pragma warning restore CA1873
        }
    }

    /// <summary>How close to its expiry a certificate in use is warned about: 14 days.</summary>
    internal static TimeSpan ExpiryWarning { get; } = TimeSpan.FromDays(14);

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
        }

        _timer.Dispose();
        foreach (var watcher in _watchers)
        {
            watcher.Dispose();
        }
    }

    private void OnChanged(object sender, FileSystemEventArgs e) => Check();
}
