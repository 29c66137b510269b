using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Sockeye.Hosting;
using Sockeye.Protocols;
using Sockeye.Tests.Protocols;

namespace Sockeye.Tests.Hosting;

/// <summary>An endpoint's Tls, ProxyProtocol and ReusePort, from the endpoint or from EndpointDefaults.</summary>
public sealed class EndpointTlsConfigurationTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("sockeye-config-tls-");
    private readonly string _certificate;
    private readonly string _key;

    public EndpointTlsConfigurationTests() => (_certificate, _key) = TestCertificates.WritePem(TestCertificates.Server, _directory.FullName, "server");

    public void Dispose() => _directory.Delete(recursive: true);

    [Fact(Timeout = Timeouts.Fast)]
    public Task An_endpoint_serves_TLS_with_a_PEM_certificate_and_its_settings()
    {
        var options = Bind(new()
        {
            ["Sockeye:Endpoints:Main:Url"] = "tcp://127.0.0.1:0",
            ["Sockeye:Endpoints:Main:Tls:Certificate:Path"] = "server.crt",
            ["Sockeye:Endpoints:Main:Tls:Certificate:KeyPath"] = "server.key",
            ["Sockeye:Endpoints:Main:Tls:HandshakeTimeout"] = "2.5",
            ["Sockeye:Endpoints:Main:Tls:EnabledProtocols:0"] = "Tls13",
            ["Sockeye:Endpoints:Main:Tls:ClientCertificateMode"] = "Allow",
            ["Sockeye:Endpoints:Main:Tls:ClientCertificateAuthorities"] = "server.crt",
        });

        var tls = Assert.Single(options.Listeners).Tls!;
        Assert.Equal(TestCertificates.Server.Thumbprint, tls.ServerCertificate.Thumbprint);
        Assert.Equal(TimeSpan.FromSeconds(2.5), tls.HandshakeTimeout);
        Assert.Equal(SslProtocols.Tls13, tls.EnabledProtocols);
        Assert.Equal(ClientCertificateMode.Allow, tls.ClientCertificateMode);
        Assert.Equal(TestCertificates.Server.Thumbprint, Assert.Single(tls.ClientCertificateAuthorities).Thumbprint);
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("list")]
    [InlineData("text")]
    public Task Both_TLS_versions_are_taken_as_docs_configuration_md_writes_them(string form)
    {
        // Was: "'Tls12, Tls13' is not one of None, Ssl2, ...": one name only, so the documented default could not be written.
        var settings = new Dictionary<string, string?>
        {
            ["Sockeye:Endpoints:Main:Url"] = "tcp://127.0.0.1:0",
            ["Sockeye:Endpoints:Main:Tls:Certificate:Path"] = "server.crt",
            ["Sockeye:Endpoints:Main:Tls:Certificate:KeyPath"] = "server.key",
        };
        if (form == "list")
        {
            settings["Sockeye:Endpoints:Main:Tls:EnabledProtocols:0"] = "Tls12";
            settings["Sockeye:Endpoints:Main:Tls:EnabledProtocols:1"] = "Tls13";
        }
        else
        {
            settings["Sockeye:Endpoints:Main:Tls:EnabledProtocols"] = "Tls12, Tls13";
        }

        var options = Bind(settings);

        Assert.Equal(SslProtocols.Tls12 | SslProtocols.Tls13, Assert.Single(options.Listeners).Tls!.EnabledProtocols);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task A_PKCS12_file_takes_its_password()
    {
        File.WriteAllBytes(Path.Combine(_directory.FullName, "server.pfx"), TestCertificates.Server.Export(X509ContentType.Pkcs12, "s3cret"));

        var options = Bind(new()
        {
            ["Sockeye:Endpoints:Main:Url"] = "tcp://127.0.0.1:0",
            ["Sockeye:Endpoints:Main:Tls:Certificate:Path"] = "server.pfx",
            ["Sockeye:Endpoints:Main:Tls:Certificate:Password"] = "s3cret",
        });

        Assert.Equal(TestCertificates.Server.Thumbprint, Assert.Single(options.Listeners).Tls!.ServerCertificate.Thumbprint);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Endpoint_defaults_apply_to_every_endpoint_unless_it_says_otherwise()
    {
        using var other = TestCertificates.CreateSelfSigned("CN=other");
        var (otherCertificate, otherKey) = TestCertificates.WritePem(other, _directory.FullName, "other");
        var options = Bind(new()
        {
            ["Sockeye:EndpointDefaults:ReusePort"] = "true",
            ["Sockeye:EndpointDefaults:Tls:Certificate:Path"] = _certificate,
            ["Sockeye:EndpointDefaults:Tls:Certificate:KeyPath"] = _key,
            ["Sockeye:EndpointDefaults:Tls:HandshakeTimeout"] = "3",
            ["Sockeye:EndpointDefaults:ProxyProtocol:TrustedProxies:0"] = "10.0.0.0/8",
            ["Sockeye:EndpointDefaults:ProxyProtocol:TrustedProxies:1"] = "fd00::1",
            ["Sockeye:EndpointDefaults:ProxyProtocol:HeaderTimeout"] = "4",
            ["Sockeye:Endpoints:A:Url"] = "tcp://127.0.0.1:0",
            ["Sockeye:Endpoints:B:Url"] = "tcp://127.0.0.1:0",
            ["Sockeye:Endpoints:C:Url"] = "tcp://127.0.0.1:0",
            ["Sockeye:Endpoints:C:ReusePort"] = "false",
            ["Sockeye:Endpoints:C:Tls:Certificate:Path"] = otherCertificate,
            ["Sockeye:Endpoints:C:Tls:Certificate:KeyPath"] = otherKey,
            ["Sockeye:Endpoints:C:ProxyProtocol:Enabled"] = "false",
            ["Sockeye:Endpoints:D:Url"] = "tcp://127.0.0.1:0",
            ["Sockeye:Endpoints:D:Tls:Enabled"] = "false",
            ["Sockeye:Endpoints:E:Url"] = $"unix:{Path.Combine(_directory.FullName, "e.sock")}",
        });

        var (a, b, c, d, e) = (options.Listeners[0], options.Listeners[1], options.Listeners[2], options.Listeners[3], options.Listeners[4]);
        Assert.Equal(TestCertificates.Server.Thumbprint, a.Tls!.ServerCertificate.Thumbprint);
        Assert.Same(a.Tls, b.Tls);
        Assert.Equal(TimeSpan.FromSeconds(3), a.Tls.HandshakeTimeout);
        Assert.Equal([IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("fd00::1/128")], a.ProxyProtocol!.TrustedProxies);
        Assert.Equal(TimeSpan.FromSeconds(4), a.ProxyProtocol.HeaderTimeout);
        Assert.True(a.ReusePort);

        // C's own certificate replaces the default one as a whole, and the other defaults still apply to it.
        Assert.Equal(other.Thumbprint, c.Tls!.ServerCertificate.Thumbprint);
        Assert.Equal(TimeSpan.FromSeconds(3), c.Tls.HandshakeTimeout);
        Assert.Null(c.ProxyProtocol);
        Assert.False(c.ReusePort);
        Assert.Null(d.Tls);

        // A Unix domain socket has no SO_REUSEPORT: the default is for TCP endpoints.
        Assert.False(e.ReusePort);
        Assert.NotNull(e.Tls);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Cipher_suites_are_IANA_names_or_the_platforms_list()
    {
        var options = Bind(new()
        {
            ["Sockeye:EndpointDefaults:Tls:Certificate:Path"] = "server.crt",
            ["Sockeye:EndpointDefaults:Tls:Certificate:KeyPath"] = "server.key",
            ["Sockeye:Endpoints:Named:Url"] = "tcp://127.0.0.1:0",
            ["Sockeye:Endpoints:Named:Tls:CipherSuites:0"] = "TLS_AES_128_GCM_SHA256",
            ["Sockeye:Endpoints:Named:Tls:CipherSuites:1"] = "tls_ecdhe_ecdsa_with_aes_128_gcm_sha256",
            ["Sockeye:Endpoints:Platform:Url"] = "tcp://127.0.0.1:0",
            ["Sockeye:Endpoints:Platform:Tls:CipherSuites"] = "Platform",
            ["Sockeye:Endpoints:Default:Url"] = "tcp://127.0.0.1:0",
        });

        Assert.Equal(
            [System.Net.Security.TlsCipherSuite.TLS_AES_128_GCM_SHA256, System.Net.Security.TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256],
            options.Listeners.Single(l => l.Tls!.CipherSuites?.Count == 2).Tls!.CipherSuites);
        Assert.Single(options.Listeners, l => l.Tls!.CipherSuites is null);
        Assert.Single(options.Listeners, l => l.Tls!.CipherSuites is { } suites && suites.SequenceEqual(TlsOptions.DefaultCipherSuites));

        var error = Assert.Throws<OptionsValidationException>(() => Bind(new()
        {
            ["Sockeye:Endpoints:Main:Url"] = "tcp://127.0.0.1:0",
            ["Sockeye:Endpoints:Main:Tls:Certificate:Path"] = "server.crt",
            ["Sockeye:Endpoints:Main:Tls:Certificate:KeyPath"] = "server.key",
            ["Sockeye:Endpoints:Main:Tls:CipherSuites:0"] = "RC4",
        }));
        Assert.StartsWith("Sockeye:Endpoints:Main:Tls:CipherSuites:0: 'RC4' is not a cipher suite's IANA name", Assert.Single(error.Failures), StringComparison.Ordinal);
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("Sockeye:Endpoints:Main:Tls:Certificate:Path", "missing.crt", "Sockeye:Endpoints:Main:Tls:Certificate: Cannot load the TLS certificate from")]
    [InlineData("Sockeye:Endpoints:Main:Tls:HandshakeTimeout", "3", "Sockeye:Endpoints:Main:Tls: TLS needs a certificate: Tls:Certificate:Path")]
    [InlineData("Sockeye:Endpoints:Main:Tls:Certficate:Path", "server.crt", "Sockeye:Endpoints:Main:Tls:Certficate is not a setting here; the settings are Certificate, CipherSuites, ClientCertificateAuthorities, ClientCertificateMode, Enabled, EnabledProtocols, HandshakeTimeout, ReloadOnChange, Sni.")]
    [InlineData("Sockeye:Endpoints:Main:Tls:Enabled", "yes", "Sockeye:Endpoints:Main:Tls:Enabled: 'yes' is not true or false.")]
    [InlineData("Sockeye:Endpoints:Main:ProxyProtocol:TrustedProxies:0", "10.0.0.1/8", "Sockeye:Endpoints:Main:ProxyProtocol:TrustedProxies:0: '10.0.0.1/8' has address bits set past its prefix; write 10.0.0.0/8 for the network, or 10.0.0.1 for one address.")]
    [InlineData("Sockeye:Endpoints:Main:ProxyProtocol:Enabled", "true", "Sockeye:Endpoints:Main:ProxyProtocol: the PROXY protocol needs TrustedProxies")]
    [InlineData("Sockeye:EndpointDefaults:Tls:HandshakeTimeout", "3", "Sockeye:EndpointDefaults:Tls applies to no endpoint")]
    [InlineData("Sockeye:EndpointDefaults:Url", "tcp://127.0.0.1:0", "Sockeye:EndpointDefaults:Url is not a setting here; the settings are DualMode, ProxyProtocol, ReusePort, Tls.")]
    public Task A_bad_TLS_or_PROXY_setting_is_an_error_that_names_its_key(string key, string value, string expected)
    {
        var values = new Dictionary<string, string?> { ["Sockeye:Endpoints:Main:Url"] = "tcp://127.0.0.1:0", [key] = value };
        if (key.EndsWith(":Tls:Certificate:Path", StringComparison.Ordinal))
        {
            values["Sockeye:Endpoints:Main:Tls:Certificate:KeyPath"] = "server.key";
        }

        var error = Assert.Throws<OptionsValidationException>(() => Bind(values));

        // The key named first; a misspelt key may bring a second error about what it left out.
        Assert.StartsWith(expected, error.Failures.First(), StringComparison.Ordinal);
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("Sockeye:Endpoints:Main:Tls:HandshakeTimeout", "0", "Sockeye:Endpoints:Main:Tls:HandshakeTimeout must be greater than zero. It is 0.")]
    [InlineData("Sockeye:EndpointDefaults:Tls:HandshakeTimeout", "-1", "Sockeye:EndpointDefaults:Tls:HandshakeTimeout must be greater than zero. It is -1.")]
    [InlineData("Sockeye:Endpoints:Main:Tls:HandshakeTimeout", "5000000", "Sockeye:Endpoints:Main:Tls:HandshakeTimeout must be at most 4294967 seconds (about 49.7 days), the longest a timer waits; Infinite (Timeout.InfiniteTimeSpan) turns it off. It is 5000000.")]
    [InlineData("Sockeye:Endpoints:Main:Tls:EnabledProtocols", "Ssl3", "Sockeye:Endpoints:Main:Tls:EnabledProtocols has Ssl3, which is obsolete and refused by the platform's TLS, so every handshake would fail; the versions are Tls12 and Tls13, or None for the operating system's choice.")]
    [InlineData("Sockeye:EndpointDefaults:Tls:EnabledProtocols", "Tls11, Tls12", "Sockeye:EndpointDefaults:Tls:EnabledProtocols has Tls11, which is obsolete")]
    [InlineData("Sockeye:Endpoints:Main:ProxyProtocol:HeaderTimeout", "5000000", "Sockeye:Endpoints:Main:ProxyProtocol:HeaderTimeout must be at most 4294967 seconds")]
    public Task A_TLS_or_PROXY_value_the_server_refuses_names_the_key_that_set_it(string key, string value, string expected)
    {
        // Was: "Sockeye:HandshakeTimeout must be greater than zero", a key that does not exist; and no error at all for
        // a duration over a timer's limit (every connection then failed) or an obsolete TLS version (every handshake did).
        var error = Assert.Throws<OptionsValidationException>(() => Bind(new()
        {
            ["Sockeye:Endpoints:Main:Url"] = "tcp://127.0.0.1:0",
            ["Sockeye:Endpoints:Main:Tls:Certificate:Path"] = "server.crt",
            ["Sockeye:Endpoints:Main:Tls:Certificate:KeyPath"] = "server.key",
            ["Sockeye:Endpoints:Main:ProxyProtocol:TrustedProxies:0"] = "10.0.0.0/8",
            [key] = value,
        }));

        Assert.StartsWith(expected, Assert.Single(error.Failures), StringComparison.Ordinal);
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("None", SslProtocols.None)]
    [InlineData("Tls13", SslProtocols.Tls13)]
    public Task The_current_TLS_versions_and_the_systems_choice_are_taken(string value, SslProtocols expected)
    {
        var options = Bind(new()
        {
            ["Sockeye:Endpoints:Main:Url"] = "tcp://127.0.0.1:0",
            ["Sockeye:Endpoints:Main:Tls:Certificate:Path"] = "server.crt",
            ["Sockeye:Endpoints:Main:Tls:Certificate:KeyPath"] = "server.key",
            ["Sockeye:Endpoints:Main:Tls:EnabledProtocols"] = value,
        });

        Assert.Equal(expected, Assert.Single(options.Listeners).Tls!.EnabledProtocols);
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("missing.crt", null)]
    [InlineData("server.crt", "missing.key")]
    public Task A_default_certificate_that_does_not_load_is_the_one_error(string path, string? keyPath)
    {
        // Was: the load's error, then "Sockeye:EndpointDefaults:Tls applies to no endpoint: no endpoint has TLS on (a
        // Tls:Certificate:Path)", though the defaults gave one.
        var error = Assert.Throws<OptionsValidationException>(() => Bind(new()
        {
            ["Sockeye:Endpoints:Main:Url"] = "tcp://127.0.0.1:0",
            ["Sockeye:EndpointDefaults:Tls:Certificate:Path"] = path,
            ["Sockeye:EndpointDefaults:Tls:Certificate:KeyPath"] = keyPath ?? "server.key",
        }));

        Assert.StartsWith("Sockeye:EndpointDefaults:Tls:Certificate: Cannot load the TLS certificate", Assert.Single(error.Failures), StringComparison.Ordinal);
        return Task.CompletedTask;
    }

    private SocketServerOptions Bind(Dictionary<string, string?> values)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var options = new SocketServerOptions();
        SockeyeConfiguration.BindRelativeTo(configuration.GetSection(SockeyeConfiguration.SectionName), options, handlers: null, _directory.FullName);
        return options;
    }
}
