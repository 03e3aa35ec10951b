using DamonOtel.Telemetry.Http;

namespace DamonOtel.Telemetry.Tests;

public sealed class BcryptTests
{
    // Produced with `htpasswd -bnBC <cost> <user> <password>` (apache2-utils 2.4, Debian 12).
    [Theory]
    [InlineData("pass", "$2y$10$O41xjlI4/LxHQuV7SdJq8uLvkmLk0n63QsrckOLtZG8jl/USp/VKe")]
    [InlineData("correct horse", "$2y$04$CjHuyxLYzk8yl6lW8UWezuQ6C3/V4tZKdQz2cWwCgEGE0N.dir8sq")]
    [InlineData("", "$2y$05$TFctYYLSj48CMAbUsFDrXuGQNqOlOedQTRD9c88nLE71PEPkDlmri")]
    [InlineData("pässwörd€", "$2y$06$Cib8mTfl5UwrlUGb7zs3yOqo58NBbVff3L1T704BTz27ec1skQ5Tu")]
    public void Verifies_htpasswd_hashes(string password, string hash)
    {
        Assert.True(Bcrypt.Verify(password, hash));
        Assert.False(Bcrypt.Verify(password + "x", hash));
        // $2a$/$2b$/$2y$ differ only in bugs of other implementations: same result here.
        Assert.True(Bcrypt.Verify(password, "$2b$" + hash[4..]));
        Assert.True(Bcrypt.Verify(password, "$2a$" + hash[4..]));
    }

    [Fact]
    public void Passwords_are_truncated_at_72_bytes()
    {
        // htpasswd -bnBC 4 dave <80 x 'a'>
        const string hash80 = "$2y$04$Kz.HHym.RWf1kwA53B8cLux7LDOFMPGZmhP./9WxWOyLs.8hRans6";
        Assert.True(Bcrypt.Verify(new string('a', 80), hash80));
        Assert.True(Bcrypt.Verify(new string('a', 72), hash80));
        Assert.False(Bcrypt.Verify(new string('a', 71), hash80));
    }

    [Fact]
    public void Hash_reproduces_a_known_hash_from_its_salt()
    {
        const string known = "$2y$04$CjHuyxLYzk8yl6lW8UWezuQ6C3/V4tZKdQz2cWwCgEGE0N.dir8sq";
        var salt = DecodeSalt(known[7..29]);
        Assert.Equal("$2y" + known[3..], Bcrypt.Hash("correct horse", 4, salt, "2y"));
    }

    [Fact]
    public void Verifies_a_fresh_htpasswd_hash()
    {
        var password = "pw-" + Guid.NewGuid().ToString("N")[..12];
        var (code, stdout, stderr) = ProcessRunner.Run(ProcessRunner.Require("htpasswd", "apache2-utils"), ["-bnBC", "5", "someone", password]);
        Assert.True(code == 0, stderr);
        var hash = stdout.Trim().Split(':', 2)[1];
        Assert.True(Bcrypt.Verify(password, hash));
        Assert.False(Bcrypt.Verify(password[..^1], hash));
    }

    [Theory]
    [InlineData("plain", "not a bcrypt hash")]
    [InlineData("$2x$04$CjHuyxLYzk8yl6lW8UWezuQ6C3/V4tZKdQz2cWwCgEGE0N.dir8sq", "unsupported bcrypt version")]
    [InlineData("$2y$03$CjHuyxLYzk8yl6lW8UWezuQ6C3/V4tZKdQz2cWwCgEGE0N.dir8sq", "outside 4..31")]
    [InlineData("$2y$04$CjHuyxLYzk8yl6lW8UWezuQ6C3/V4tZKdQz2cWwCgEGE0N.dir8s!", "invalid character")]
    public void Rejects_malformed_hashes(string hash, string reason) => Assert.Contains(reason, Bcrypt.Validate(hash));

    private static byte[] DecodeSalt(string s)
    {
        const string alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        var bytes = new List<byte>();
        int acc = 0, n = 0;
        foreach (var c in s)
        {
            acc = (acc << 6) | alphabet.IndexOf(c);
            n += 6;
            if (n >= 8)
            {
                n -= 8;
                bytes.Add((byte)(acc >> n));
                acc &= (1 << n) - 1;
            }
        }

        return [.. bytes.Take(16)];
    }
}
