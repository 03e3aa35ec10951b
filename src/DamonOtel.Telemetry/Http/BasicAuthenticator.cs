using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace DamonOtel.Telemetry.Http;

/// <summary>Outcome of one basic-auth check.</summary>
public enum AuthOutcome
{
    Allowed,
    Denied,

    /// <summary>Too many bcrypt checks run already: answered at once (429) instead of queueing.</summary>
    Busy,
}

/// <summary>
/// Basic auth against web_config's bcrypt hashes (BCrypt.Net-Next). bcrypt is slow on purpose,
/// so: at most <c>maxConcurrentChecks</c> run at a time and the excess is refused at once (a
/// flood of wrong passwords cannot hold a legitimate scrape for seconds); a login that passed is
/// remembered (key: hash + SHA-256 of the password), so a scraper pays bcrypt once; an unknown
/// user is checked against a fixed dummy hash of the same cost, so it takes as long as a known
/// one and the answer time does not reveal which user names exist.
/// </summary>
public sealed class BasicAuthenticator
{
    // Bounds the memory a flood of distinct valid logins could take.
    private const int MaxRememberedLogins = 1024;

    private readonly IReadOnlyDictionary<string, string> users;
    private readonly int maxConcurrentChecks;
    private readonly ConcurrentDictionary<string, bool> verified = new(StringComparer.Ordinal);
    private readonly Func<string, string, bool> verify;
    private readonly string dummyHash;
    private int runningChecks;

    /// <param name="users">user → bcrypt hash (validated by the config layer).</param>
    /// <param name="maxConcurrentChecks">bcrypt checks allowed at once.</param>
    /// <param name="verify">(password, hash) → match; BCrypt.Net-Next unless a test records the calls.</param>
    public BasicAuthenticator(IReadOnlyDictionary<string, string> users, int maxConcurrentChecks = 2, Func<string, string, bool>? verify = null)
    {
        ArgumentNullException.ThrowIfNull(users);
        this.users = users;
        this.maxConcurrentChecks = Math.Max(1, maxConcurrentChecks);
        this.verify = verify ?? ((password, hash) => BCrypt.Net.BCrypt.Verify(password, hash));
        dummyHash = Bcrypt.DummyHash(users.Count == 0 ? 10 : users.Values.Max(Bcrypt.Cost));
    }

    /// <summary>The hash an unknown user's password is checked against.</summary>
    public string DummyHash => dummyHash;

    public AuthOutcome Check(string? authorizationHeader)
    {
        if (authorizationHeader is null || !authorizationHeader.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return AuthOutcome.Denied;
        }

        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authorizationHeader[6..].Trim()));
        }
        catch (FormatException)
        {
            return AuthOutcome.Denied;
        }

        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            return AuthOutcome.Denied;
        }

        var known = users.TryGetValue(decoded[..colon], out var hash);
        hash = known ? hash! : dummyHash;
        var password = decoded[(colon + 1)..];
        var key = hash + ":" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(password)));
        if (known && verified.ContainsKey(key))
        {
            return AuthOutcome.Allowed;
        }

        if (Interlocked.Increment(ref runningChecks) > maxConcurrentChecks)
        {
            Interlocked.Decrement(ref runningChecks);
            return AuthOutcome.Busy;
        }

        bool match;
        try
        {
            match = verify(password, hash);
        }
        finally
        {
            Interlocked.Decrement(ref runningChecks);
        }

        if (!match || !known)
        {
            return AuthOutcome.Denied;
        }

        if (verified.Count < MaxRememberedLogins)
        {
            verified[key] = true;
        }

        return AuthOutcome.Allowed;
    }
}
