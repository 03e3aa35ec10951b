using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using DamonOtel.Damon.IO;

namespace DamonOtel.Telemetry.Http;

/// <summary>exporter-toolkit client_auth_type values.</summary>
public enum ClientAuthType
{
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

/// <summary>tls_server_config of a web_config file (paths already resolved against the file's directory).</summary>
public sealed record TlsServerConfig(
    string CertFile,
    string KeyFile,
    ClientAuthType ClientAuthType,
    string? ClientCaFile,
    SslProtocols? MinVersion,
    SslProtocols? MaxVersion);

/// <summary>A web_config whose TLS files cannot be loaded; the message names the key and the file.</summary>
public sealed class WebConfigException : Exception
{
    public WebConfigException(string message)
        : base(message)
    {
    }

    public WebConfigException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public WebConfigException()
    {
    }
}

/// <summary>
/// What a web_config file in the Prometheus exporter-toolkit format asks of the endpoint: TLS
/// (tls_server_config) and basic auth (basic_auth_users). The agent's configuration layer reads
/// and validates the file (DamonOtel.Agent.Configuration.WebConfigLoader); this is the result.
/// </summary>
/// <param name="Tls">TLS settings, or null for plain HTTP.</param>
/// <param name="BasicAuthUsers">user → bcrypt hash; empty for no authentication.</param>
public sealed record WebConfig(TlsServerConfig? Tls, IReadOnlyDictionary<string, string> BasicAuthUsers)
{
    public static WebConfig None { get; } = new(null, new Dictionary<string, string>());

    /// <summary>null when <paramref name="hash"/> is a bcrypt hash the endpoint can verify, else why not.</summary>
    public static string? CheckPasswordHash(string hash) => Bcrypt.Validate(hash);

    /// <summary>The largest TLS file read (a certificate chain or key is a few KiB).</summary>
    public const int MaxTlsFileBytes = 1 << 20;

    // Followed: Kubernetes Secret volumes are symbolic links into ..data.
    private static readonly SafeReadOptions TlsFileOptions = new() { MaxBytes = MaxTlsFileBytes, FollowSymlink = true };

    /// <summary>Loads the server certificate with its private key from the PEM files.</summary>
    public static X509Certificate2 LoadCertificate(TlsServerConfig tls)
    {
        ArgumentNullException.ThrowIfNull(tls);
        try
        {
            string cert = SafeFile.ReadText(tls.CertFile, TlsFileOptions);
            string key = SafeFile.ReadText(tls.KeyFile, TlsFileOptions);
            using var pem = X509Certificate2.CreateFromPem(cert, key);
            // Re-import so SslStream can use the key on every platform.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException or ArgumentException)
        {
            throw new WebConfigException($"tls_server_config.cert_file/key_file: cannot load {tls.CertFile} with {tls.KeyFile}: {OneLine(e.Message)}", e);
        }
    }

    /// <summary>Loads the certificate authorities of client_ca_file (at least one).</summary>
    public static X509Certificate2Collection LoadClientCertificateAuthorities(string file)
    {
        var c = new X509Certificate2Collection();
        try
        {
            c.ImportFromPem(SafeFile.ReadText(file, TlsFileOptions));
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException)
        {
            throw new WebConfigException($"tls_server_config.client_ca_file: cannot load {file}: {OneLine(e.Message)}", e);
        }

        return c.Count > 0 ? c : throw new WebConfigException($"tls_server_config.client_ca_file: no certificate in {file}");
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}
