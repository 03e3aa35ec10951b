using System.Diagnostics;
using System.Text;
using DamonOtel.Telemetry.Http;
using DamonOtel.Telemetry.Tests.Infrastructure;
using Xunit.Abstractions;

namespace DamonOtel.Telemetry.Tests;

/// <summary>web_config's bcrypt: BCrypt.Net-Next verifies, our validation caps the cost, unknown users cost the same.</summary>
public sealed class BcryptTests(ITestOutputHelper output)
{
    // Produced with `htpasswd -bnBC <cost> <user> <password>` (apache2-utils 2.4, Debian 12).
    [Theory]
    [InlineData("pass", "$2y$10$O41xjlI4/LxHQuV7SdJq8uLvkmLk0n63QsrckOLtZG8jl/USp/VKe")]
    [InlineData("correct horse", "$2y$04$CjHuyxLYzk8yl6lW8UWezuQ6C3/V4tZKdQz2cWwCgEGE0N.dir8sq")]
    [InlineData("", "$2y$05$TFctYYLSj48CMAbUsFDrXuGQNqOlOedQTRD9c88nLE71PEPkDlmri")]
    [InlineData("pässwörd€", "$2y$06$Cib8mTfl5UwrlUGb7zs3yOqo58NBbVff3L1T704BTz27ec1skQ5Tu")]
    public void Verifies_htpasswd_hashes(string password, string hash)
    {
        Assert.Null(Bcrypt.Validate(hash));
        Assert.Equal(AuthOutcome.Allowed, Auth(hash).Check(Header("u", password)));
        Assert.Equal(AuthOutcome.Denied, Auth(hash).Check(Header("u", password + "x")));
        // $2a$/$2b$/$2y$ differ only in bugs of other implementations: same result here.
        Assert.Equal(AuthOutcome.Allowed, Auth("$2b$" + hash[4..]).Check(Header("u", password)));
        Assert.Equal(AuthOutcome.Allowed, Auth("$2a$" + hash[4..]).Check(Header("u", password)));
    }

    [Fact]
    public void Verifies_a_fresh_htpasswd_hash()
    {
        var password = "pw-" + Guid.NewGuid().ToString("N")[..12];
        var (code, stdout, stderr) = ProcessRunner.Run(ProcessRunner.Require("htpasswd", "apache2-utils"), ["-bnBC", "5", "someone", password]);
        Assert.True(code == 0, stderr);
        var hash = stdout.Trim().Split(':', 2)[1];
        Assert.Equal(AuthOutcome.Allowed, Auth(hash, "someone").Check(Header("someone", password)));
        Assert.Equal(AuthOutcome.Denied, Auth(hash, "someone").Check(Header("someone", password[..^1])));
    }

    [Theory]
    [InlineData("plain", "not a bcrypt hash")]
    [InlineData("$2x$04$CjHuyxLYzk8yl6lW8UWezuQ6C3/V4tZKdQz2cWwCgEGE0N.dir8sq", "unsupported bcrypt version")]
    [InlineData("$2y$03$CjHuyxLYzk8yl6lW8UWezuQ6C3/V4tZKdQz2cWwCgEGE0N.dir8sq", "below 4")]
    [InlineData("$2y$15$CjHuyxLYzk8yl6lW8UWezuQ6C3/V4tZKdQz2cWwCgEGE0N.dir8sq", "above the limit 14")]
    [InlineData("$2y$31$CjHuyxLYzk8yl6lW8UWezuQ6C3/V4tZKdQz2cWwCgEGE0N.dir8sq", "above the limit 14")]
    [InlineData("$2y$04$CjHuyxLYzk8yl6lW8UWezuQ6C3/V4tZKdQz2cWwCgEGE0N.dir8s!", "not a bcrypt base64 character")]
    public void Rejects_malformed_hashes_and_costs_above_the_cap(string hash, string reason) => Assert.Contains(reason, Bcrypt.Validate(hash));

    [Fact]
    public void Cost_14_is_the_highest_accepted()
    {
        Assert.Null(Bcrypt.Validate(Bcrypt.DummyHash(14)));
        Assert.Equal(14, Bcrypt.MaxCost);
    }

    [Fact]
    public void There_is_a_valid_dummy_hash_for_every_accepted_cost()
    {
        for (var cost = Bcrypt.MinCost; cost <= Bcrypt.MaxCost; cost++)
        {
            var dummy = Bcrypt.DummyHash(cost);
            Assert.Null(Bcrypt.Validate(dummy));
            Assert.Equal(cost, Bcrypt.Cost(dummy));
        }
    }

    [Fact]
    public void An_unknown_user_is_checked_against_the_dummy_hash_of_the_users_cost()
    {
        // Timing safety without a wall clock: the unknown user takes the same path (one bcrypt
        // check, same cost) as a known one. The times themselves are measured below, not asserted.
        const string known = "$2y$10$O41xjlI4/LxHQuV7SdJq8uLvkmLk0n63QsrckOLtZG8jl/USp/VKe";
        var calls = new List<string>();
        var auth = new BasicAuthenticator(new Dictionary<string, string> { ["prometheus"] = known }, verify: (p, h) =>
        {
            calls.Add(h);
            return BCrypt.Net.BCrypt.Verify(p, h);
        });

        Assert.Equal(AuthOutcome.Denied, auth.Check(Header("nobody", "pass")));
        Assert.Equal([Bcrypt.DummyHash(10)], calls);
        calls.Clear();
        Assert.Equal(AuthOutcome.Denied, auth.Check(Header("prometheus", "wrong")));
        Assert.Equal([known], calls);
        Assert.Equal(Bcrypt.Cost(known), Bcrypt.Cost(auth.DummyHash));
        // Even the dummy's own password (were it known) never logs an unknown user in: `known` decides.
        calls.Clear();
        Assert.Equal(AuthOutcome.Allowed, auth.Check(Header("prometheus", "pass")));
        Assert.Single(calls);
        // Remembered: a scraper pays bcrypt once.
        Assert.Equal(AuthOutcome.Allowed, auth.Check(Header("prometheus", "pass")));
        Assert.Single(calls);

        var real = new BasicAuthenticator(new Dictionary<string, string> { ["prometheus"] = known });
        double Median(string user)
        {
            var times = new List<double>();
            for (var i = 0; i < 7; i++)
            {
                var start = Stopwatch.GetTimestamp();
                real.Check(Header(user, "wrong" + i));
                times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }

            times.Sort();
            return times[times.Count / 2];
        }

        output.WriteLine($"cost 10, wrong password, median of 7: known user {Median("prometheus"):F1} ms, unknown user {Median("nobody"):F1} ms");
    }

    [Fact]
    public async Task Checks_beyond_the_limit_are_refused_at_once_not_queued()
    {
        const string hash = "$2y$04$CjHuyxLYzk8yl6lW8UWezuQ6C3/V4tZKdQz2cWwCgEGE0N.dir8sq";
        using var release = new ManualResetEventSlim();
        using var inside = new CountdownEvent(2);
        var auth = new BasicAuthenticator(new Dictionary<string, string> { ["u"] = hash }, maxConcurrentChecks: 2, verify: (_, _) =>
        {
            if (!inside.IsSet)
            {
                inside.Signal();
            }

            release.Wait();
            return false;
        });
        var running = Enumerable.Range(0, 2).Select(i => Task.Run(() => auth.Check(Header("u", "wrong" + i)))).ToArray();
        Assert.True(inside.Wait(TimeSpan.FromSeconds(30)), "two checks running");

        // The third (wrong or right, known or not) is answered without waiting for the two.
        Assert.Equal(AuthOutcome.Busy, auth.Check(Header("u", "correct horse")));
        Assert.Equal(AuthOutcome.Busy, auth.Check(Header("someone", "else")));
        release.Set();
        Assert.All(await Task.WhenAll(running), r => Assert.Equal(AuthOutcome.Denied, r));
        // Free again: a check runs.
        Assert.Equal(AuthOutcome.Denied, auth.Check(Header("u", "wrong")));
    }

    private static BasicAuthenticator Auth(string hash, string user = "u") => new(new Dictionary<string, string> { [user] = hash });

    private static string Header(string user, string password) => "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password));
}
