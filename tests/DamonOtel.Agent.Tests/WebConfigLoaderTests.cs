using DamonOtel.Agent.Configuration;
using DamonOtel.Telemetry.Http;

namespace DamonOtel.Agent.Tests;

/// <summary>exporters.prometheus.web_config: read and validated like the main config.</summary>
public class WebConfigLoaderTests
{
    // htpasswd -bnBC 4 alice 'correct horse'
    private const string AliceHash = "$2y$04$CjHuyxLYzk8yl6lW8UWezuQ6C3/V4tZKdQz2cWwCgEGE0N.dir8sq";

    [Theory]
    [InlineData("tls_server_config:\n  cert_file: /nonexistent.pem\n  key_file: /nonexistent.key\n", "web.yml:2:14: tls_server_config.cert_file: file not found: /nonexistent.pem")]
    [InlineData("tls_server_config:\n  key_file: /k.pem\n", "web.yml:2:0: tls_server_config.cert_file: required")]
    [InlineData("tls_server_config:\n  cert_file: /c\n  key_file: /k\n  client_auth_type: Sometimes\n", "web.yml:4:21: tls_server_config.client_auth_type: 'Sometimes' is not one of: NoClientCert,")]
    [InlineData("tls_server_config:\n  cipher_suites: [x]\n", "web.yml:2:3: tls_server_config.cipher_suites: not supported by damon-otel")]
    [InlineData("basic_auth_users:\n  alice: notahash\n", "web.yml:2:10: basic_auth_users.alice: not a bcrypt hash")]
    [InlineData("basic_auth:\n  x: y\n", "web.yml:1:1: basic_auth: unknown key (known here: basic_auth_users, tls_server_config)")]
    [InlineData("http_server_config:\n  http2: false\n", "web.yml:1:1: http_server_config: not supported by damon-otel")]
    [InlineData("tls_server_config: [\n", "web.yml:2:1: (syntax):")]
    public void Errors_name_file_line_column_and_key(string yaml, string expected)
    {
        var errors = new List<ConfigError>();
        Assert.Null(WebConfigLoader.Parse(yaml, "web.yml", "/", errors));
        Assert.Contains(errors, e => e.ToString().StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Every_error_is_reported_not_just_the_first()
    {
        var errors = new List<ConfigError>();
        WebConfigLoader.Parse("tls_server_config:\n  client_auth_type: Sometimes\nbasic_auth_users:\n  alice: notahash\n", "web.yml", "/", errors);
        Assert.Equal(
            ["tls_server_config.client_auth_type", "tls_server_config.cert_file", "tls_server_config.key_file", "basic_auth_users.alice"],
            errors.Select(e => e.Key));
    }

    [Fact]
    public void Paths_are_taken_from_the_file_directory_and_users_kept()
    {
        string dir = Directory.CreateTempSubdirectory().FullName;
        // Real PEM files: the loader loads them as the endpoint will (check-config == run).
        using (var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256))
        using (System.Security.Cryptography.X509Certificates.X509Certificate2 cert = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=test", key, System.Security.Cryptography.HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1)))
        {
            File.WriteAllText(Path.Combine(dir, "cert.pem"), cert.ExportCertificatePem());
            File.WriteAllText(Path.Combine(dir, "key.pem"), key.ExportPkcs8PrivateKeyPem());
            File.WriteAllText(Path.Combine(dir, "ca.pem"), cert.ExportCertificatePem());
        }

        var errors = new List<ConfigError>();
        WebConfig? web = WebConfigLoader.Parse(
            $"tls_server_config:\n  cert_file: cert.pem\n  key_file: {dir}/key.pem\n  client_ca_file: ca.pem\n  client_auth_type: RequireAndVerifyClientCert\n  min_version: TLS13\nbasic_auth_users:\n  alice: {AliceHash}\n",
            "web.yml", dir, errors);
        Assert.Empty(errors);
        Assert.NotNull(web);
        Assert.Equal(
            new TlsServerConfig(Path.Combine(dir, "cert.pem"), Path.Combine(dir, "key.pem"), ClientAuthType.RequireAndVerifyClientCert, Path.Combine(dir, "ca.pem"), System.Security.Authentication.SslProtocols.Tls13, null),
            web.Tls);
        Assert.Equal(AliceHash, Assert.Single(web.BasicAuthUsers, u => u.Key == "alice").Value);
    }

    [Fact]
    public void An_empty_file_asks_for_nothing()
    {
        var errors = new List<ConfigError>();
        Assert.Same(WebConfig.None, WebConfigLoader.Parse(string.Empty, "web.yml", "/", errors));
        Assert.Empty(errors);
    }

    [Fact]
    public void The_main_config_loads_its_web_config_and_reports_its_errors()
    {
        string dir = Directory.CreateTempSubdirectory().FullName;
        string web = Path.Combine(dir, "web.yml");
        File.WriteAllText(web, $"basic_auth_users:\n  alice: {AliceHash}\n");
        AgentConfig ok = ConfigLoader.Parse($"exporters:\n  prometheus:\n    web_config: {web}\n", "agent.yaml");
        Assert.Equal(AliceHash, ok.Prometheus.WebConfig!.BasicAuthUsers["alice"]);

        File.WriteAllText(web, "basic_auth_users:\n  alice: notahash\n");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse($"exporters:\n  prometheus:\n    web_config: {web}\n", "agent.yaml"));
        Assert.StartsWith($"{web}:2:10: basic_auth_users.alice: not a bcrypt hash", Assert.Single(e.Errors).ToString());

        var missing = Assert.Throws<ConfigException>(() => ConfigLoader.Parse($"exporters:\n  prometheus:\n    web_config: {dir}/none.yml\n", "agent.yaml"));
        Assert.StartsWith($"agent.yaml:3:17: exporters.prometheus.web_config: cannot read {dir}/none.yml", Assert.Single(missing.Errors).ToString());
    }

    [Fact]
    public async Task Check_config_reports_web_config_errors()
    {
        string dir = Directory.CreateTempSubdirectory().FullName;
        File.WriteAllText(Path.Combine(dir, "web.yml"), "tls_server_config:\n  key_file: key.pem\n");
        string config = Path.Combine(dir, "agent.yaml");
        File.WriteAllText(config, $"exporters:\n  prometheus:\n    web_config: {Path.Combine(dir, "web.yml")}\n");
        (int code, _, string err) = await CliTests.Run("check-config", config);
        Assert.Equal(1, code);
        Assert.Contains($"{Path.Combine(dir, "web.yml")}:2:0: tls_server_config.cert_file: required", err);
        Assert.Contains("tls_server_config.key_file: file not found", err);
    }
}
