using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace DamonOtel.Telemetry.Http;

/// <summary>
/// The web_config in force, swapped whole by <see cref="Apply"/> on a reload (SIGHUP or a file
/// change). Every TLS handshake and every request reads the current one, so new certificates,
/// client CAs, client_auth_type and basic-auth users apply without a restart. Only switching
/// TLS on or off needs a restart: the listener is bound as HTTP or HTTPS.
/// </summary>
public sealed class WebConfigState
{
    // clientAuth (RFC 5280 id-kp-clientAuth): mTLS accepts only certificates meant for clients.
    private static readonly Oid ClientAuthUsage = new("1.3.6.1.5.5.7.3.2", "Client Authentication");

    private volatile Current current;

    public WebConfigState(WebConfig? config, int maxConcurrentAuthChecks = 2, Func<string, string, bool>? verify = null)
    {
        MaxConcurrentAuthChecks = maxConcurrentAuthChecks;
        Verify = verify;
        config ??= WebConfig.None;
        current = Load(config);
        TlsEnabled = config.Tls is not null;
    }

    /// <summary>Fixed at start: the listener speaks HTTPS.</summary>
    public bool TlsEnabled { get; }

    public WebConfig Config => current.Config;

    /// <summary>null when no basic_auth_users are configured.</summary>
    public BasicAuthenticator? Auth => current.Auth;

    private int MaxConcurrentAuthChecks { get; }

    private Func<string, string, bool>? Verify { get; }

    /// <summary>Puts <paramref name="next"/> in force; throws <see cref="WebConfigException"/> (keeping the old one) when it cannot.</summary>
    public void Apply(WebConfig next)
    {
        ArgumentNullException.ThrowIfNull(next);
        if ((next.Tls is not null) != TlsEnabled)
        {
            throw new WebConfigException($"tls_server_config: switching TLS {(TlsEnabled ? "off" : "on")} needs a restart; the running web_config stays in force");
        }

        current = Load(next);
    }

    /// <summary>The TLS options of one new connection, from the web_config in force.</summary>
    internal SslServerAuthenticationOptions ServerAuthentication()
    {
        Current c = current;
        TlsServerConfig tls = c.Config.Tls ?? throw new InvalidOperationException("TLS is not configured");
        var auth = tls.ClientAuthType;
        var verifyChain = auth is ClientAuthType.VerifyClientCertIfGiven or ClientAuthType.RequireAndVerifyClientCert;
        var requireCert = auth is ClientAuthType.RequireAnyClientCert or ClientAuthType.RequireAndVerifyClientCert;
        return new SslServerAuthenticationOptions
        {
            ServerCertificate = c.Certificate,
            EnabledSslProtocols = tls.MinVersion == SslProtocols.Tls13 ? SslProtocols.Tls13
                : tls.MaxVersion == SslProtocols.Tls12 ? SslProtocols.Tls12
                : SslProtocols.Tls12 | SslProtocols.Tls13,
            ClientCertificateRequired = auth != ClientAuthType.NoClientCert,
            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                if (certificate is null)
                {
                    return !requireCert;
                }

                return !verifyChain || IsTrustedClient(certificate, c.ClientCas!);
            },
        };
    }

    /// <summary>Chains to one of the client CAs and is usable for client authentication (EKU).</summary>
    internal static bool IsTrustedClient(X509Certificate certificate, X509Certificate2Collection cas)
    {
        using var cert = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.CustomTrustStore.AddRange(cas);
        // Like Go's x509 verification for client certificates: an EKU extension must allow
        // clientAuth (one without any EKU extension is unrestricted).
        chain.ChainPolicy.ApplicationPolicy.Add(ClientAuthUsage);
        return chain.Build(cert);
    }

    private Current Load(WebConfig config)
    {
        X509Certificate2? certificate = config.Tls is { } tls ? WebConfig.LoadCertificate(tls) : null;
        X509Certificate2Collection? cas = config.Tls?.ClientCaFile is { } caFile ? LoadCas(caFile) : null;
        BasicAuthenticator? auth = config.BasicAuthUsers.Count > 0 ? new BasicAuthenticator(config.BasicAuthUsers, MaxConcurrentAuthChecks, Verify) : null;
        return new Current(config, certificate, cas, auth);
    }

    private static X509Certificate2Collection LoadCas(string file)
    {
        var c = new X509Certificate2Collection();
        try
        {
            c.ImportFromPemFile(file);
        }
        catch (Exception e) when (e is CryptographicException or IOException)
        {
            throw new WebConfigException($"tls_server_config.client_ca_file: cannot load {file}: {e.Message}", e);
        }

        return c.Count > 0 ? c : throw new WebConfigException($"tls_server_config.client_ca_file: no certificate in {file}");
    }

    private sealed record Current(WebConfig Config, X509Certificate2? Certificate, X509Certificate2Collection? ClientCas, BasicAuthenticator? Auth);
}
