using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using DamonOtel.Damon.IO;
using DamonOtel.Telemetry.Http;
using YamlDotNet.RepresentationModel;

namespace DamonOtel.Agent.Configuration;

/// <summary>
/// Reads exporters.prometheus.web_config, a file in the Prometheus exporter-toolkit format
/// (tls_server_config, basic_auth_users), into the <see cref="WebConfig"/> the endpoint uses.
/// Errors have the main config's shape (file:line:column: key: problem) and are all reported
/// at once. Unknown or unsupported keys are errors: ignoring a security setting would be worse.
/// </summary>
internal static class WebConfigLoader
{
    private static readonly string[] UnsupportedTlsKeys =
        ["cert", "key", "cipher_suites", "curve_preferences", "prefer_server_cipher_suites", "client_allowed_sans"];

    /// <summary>
    /// Loads the web_config file named by <paramref name="key"/> of <paramref name="owner"/>; its
    /// errors join the owner's. Returns null when the file has errors. A relative path is taken
    /// from the working directory; paths inside the file from the file's directory.
    /// </summary>
    public static WebConfig? Load(string path, YamlNodeReader owner, string key)
    {
        string text;
        try
        {
            text = YamlLimits.ReadFile(path);
        }
        catch (SafeFileException e)
        {
            owner.Error(owner.Raw(key), key, $"cannot read {path}: {e.Reason}");
            return null;
        }

        return Parse(text, path, Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", owner.Errors);
    }

    /// <summary>Parses web_config text; appends every problem to <paramref name="errors"/> and returns null if there was one.</summary>
    public static WebConfig? Parse(string yaml, string file, string baseDirectory, List<ConfigError> errors)
    {
        int before = errors.Count;
        if (!YamlLimits.TryLoad(yaml, file, errors, out YamlNode? top))
        {
            return null;
        }

        if (top is null or YamlScalarNode { Value: null or "" })
        {
            return WebConfig.None;
        }

        if (top is not YamlMappingNode root)
        {
            errors.Add(new ConfigError(file, (int)top.Start.Line, (int)top.Start.Column, "(top)", "a web_config must be a mapping of keys"));
            return null;
        }

        var r = new YamlNodeReader(file, string.Empty, root, errors);
        TlsServerConfig? tls = ReadTls(r.Mapping("tls_server_config"), baseDirectory);
        IReadOnlyDictionary<string, string> users = ReadUsers(r.Mapping("basic_auth_users"));
        r.RejectUnsupported("http_server_config", "not supported by damon-otel");
        r.RejectUnknownKeys();
        return errors.Count > before ? null : new WebConfig(tls, users);
    }

    private static TlsServerConfig? ReadTls(YamlNodeReader t, string baseDir)
    {
        if (!t.IsPresent)
        {
            return null;
        }

        int errorsBefore = t.Errors.Count;

        string? cert = Resolve(baseDir, t.String("cert_file"));
        string? key = Resolve(baseDir, t.String("key_file"));
        string? ca = Resolve(baseDir, t.String("client_ca_file"));
        string authName = t.Keyword("client_auth_type", nameof(ClientAuthType.NoClientCert), Enum.GetNames<ClientAuthType>());
        ClientAuthType auth = Enum.Parse<ClientAuthType>(authName);
        SslProtocols? min = Version(t, "min_version");
        SslProtocols? max = Version(t, "max_version");
        foreach (string unsupported in UnsupportedTlsKeys)
        {
            t.RejectUnsupported(unsupported, "not supported by damon-otel (use cert_file/key_file; cipher and curve choices are the platform's)");
        }

        t.RejectUnknownKeys();
        if (cert is null)
        {
            t.Error(null, "cert_file", "required");
        }

        if (key is null)
        {
            t.Error(null, "key_file", "required");
        }

        foreach ((string? p, string name) in new[] { (cert, "cert_file"), (key, "key_file"), (ca, "client_ca_file") })
        {
            if (p is not null && !File.Exists(p))
            {
                t.Error(t.Raw(name), name, $"file not found: {p}");
            }
        }

        if (auth is ClientAuthType.VerifyClientCertIfGiven or ClientAuthType.RequireAndVerifyClientCert && ca is null)
        {
            t.Error(null, "client_ca_file", $"required when client_auth_type is {auth}");
        }

        if (cert is null || key is null)
        {
            return null;
        }

        var tls = new TlsServerConfig(cert, key, auth, ca, min, max);
        if (t.Errors.Count == errorsBefore)
        {
            LoadLikeTheEndpoint(t, tls);
        }

        return tls;
    }

    // The endpoint's own loaders: a certificate, key or CA file that `run` could not use is an
    // error of the config, reported by check-config too.
    private static void LoadLikeTheEndpoint(YamlNodeReader t, TlsServerConfig tls)
    {
        try
        {
            WebConfig.LoadCertificate(tls).Dispose();
        }
        catch (WebConfigException e)
        {
            t.Error(t.Raw("cert_file"), "cert_file", WithoutKey(e));
        }

        if (tls.ClientCaFile is string ca)
        {
            try
            {
                foreach (X509Certificate2 c in WebConfig.LoadClientCertificateAuthorities(ca))
                {
                    c.Dispose();
                }
            }
            catch (WebConfigException e)
            {
                t.Error(t.Raw("client_ca_file"), "client_ca_file", WithoutKey(e));
            }
        }
    }

    // "tls_server_config.cert_file/key_file: cannot load ..." → "cannot load ..." (the error names the key).
    private static string WithoutKey(WebConfigException e)
    {
        int colon = e.Message.IndexOf(": ", StringComparison.Ordinal);
        return e.Message.StartsWith("tls_server_config.", StringComparison.Ordinal) && colon > 0 ? e.Message[(colon + 2)..] : e.Message;
    }

    private static Dictionary<string, string> ReadUsers(YamlNodeReader u)
    {
        var users = new Dictionary<string, string>(StringComparer.Ordinal);
        u.RejectComplexKeys();
        foreach (string user in u.Keys)
        {
            YamlNode? value = u.Raw(user);
            if (value is not YamlScalarNode { Value: { Length: > 0 } hash })
            {
                u.Error(value, user, "expected a bcrypt hash string");
            }
            else if (WebConfig.CheckPasswordHash(hash) is { } why)
            {
                u.Error(value, user, why);
            }
            else
            {
                users[user] = hash;
            }
        }

        return users;
    }

    private static SslProtocols? Version(YamlNodeReader t, string key) =>
        t.Keyword(key, string.Empty, "TLS12", "TLS13") switch
        {
            "TLS12" => SslProtocols.Tls12,
            "TLS13" => SslProtocols.Tls13,
            _ => null,
        };

    private static string? Resolve(string baseDir, string? path) =>
        path is null ? null : Path.IsPathRooted(path) ? path : Path.GetFullPath(Path.Combine(baseDir, path));
}
