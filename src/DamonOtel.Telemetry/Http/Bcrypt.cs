namespace DamonOtel.Telemetry.Http;

/// <summary>
/// bcrypt hashes of web_config's basic_auth_users: the shape check behind config errors, the
/// cost cap, and one fixed dummy hash per cost for unknown users. Verification itself is
/// BCrypt.Net-Next's (<see cref="BasicAuthenticator"/>).
/// </summary>
internal static class Bcrypt
{
    /// <summary>
    /// The highest accepted cost: one check at cost 14 takes about a second of one core here
    /// (bench/README.md); every step above doubles it, so one wrong login could pin a core.
    /// </summary>
    public const int MaxCost = 14;

    public const int MinCost = 4;

    private const string Alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    // `htpasswd -nbBC COST x RANDOM` once, for costs 4..14; the password was thrown away. An
    // unknown user is checked against the dummy of the same cost, so it costs as much as a known one.
    private static readonly string[] DummyHashes =
    [
        "$2y$04$DGe4S5wL/7lPCDZkKvf96OV.Kl8YYUgbyKhu/hLC7Cns9S9yczLwS", // cost 4
        "$2y$05$TDc3G48PfXoy1grQ/lTtrOIvdyFnOr9bqOLp5UsdtjdFV4FhrHhn.", // cost 5
        "$2y$06$UDUoWZpMEEBE783Lw7214O3kCdcCJOwpvM1qwC1DDYiCCNQa7uQwm", // cost 6
        "$2y$07$pPgnONc3Y9PTtD9MW/k8OO1XfTV0KdxyVW6bVL.U/9HJv9a0CGuCO", // cost 7
        "$2y$08$Kr91OMjjmxH1ts12LBB76uQIdsTtLR4s.7TPufu2H8phkeqnTw9FK", // cost 8
        "$2y$09$AaunqFrfql47HbKohuyd0.xAdGxswp5iGB3AeumoOYsp7fGEaKd1m", // cost 9
        "$2y$10$Y6AVuXTA0rFfKoifIBH/LOAEuR2oeeWPotUX2j9zu5q0GuktUw56C", // cost 10
        "$2y$11$i2nVBYZ7D94RkuoQAQ1khOGYkhOIXxkzQIbL4kij5u.3kGE4L2jJS", // cost 11
        "$2y$12$MFGkHPf9Dyn2DNO3QKj2ouhR3eIEK2dM3NwOUxGBT6A1i796zbHYS", // cost 12
        "$2y$13$MNJgHLe5TxnkxdR.RHjAf.ux8RMyzxqEMZc9eiNYVbAX65hJbOrDu", // cost 13
        "$2y$14$lYPyIFTQ2DKWkdYLGgtC.O3vtdUqH1yK5tilPRFyD1CrKT.CQZ1EG", // cost 14
    ];

    /// <summary>Checks the shape and cost of a bcrypt hash; returns null when valid, else the reason.</summary>
    public static string? Validate(string hash)
    {
        // $2b$10$ + 22 salt chars + 31 hash chars = 60.
        if (hash is null || hash.Length != 60 || hash[0] != '$' || hash[3] != '$' || hash[6] != '$')
        {
            return "not a bcrypt hash ($2a$/$2b$/$2y$, 60 characters)";
        }

        var prefix = hash[..4];
        if (prefix is not ("$2a$" or "$2b$" or "$2y$"))
        {
            return $"unsupported bcrypt version '{prefix}' (use $2a$, $2b$ or $2y$)";
        }

        if (!char.IsAsciiDigit(hash[4]) || !char.IsAsciiDigit(hash[5]))
        {
            return "bcrypt cost is not a number";
        }

        var cost = Cost(hash);
        if (cost < MinCost)
        {
            return $"bcrypt cost {cost} is below {MinCost}";
        }

        if (cost > MaxCost)
        {
            return $"bcrypt cost {cost} is above the limit {MaxCost} (each wrong login would take seconds of CPU); hash again with e.g. `htpasswd -nBC 10 USER`";
        }

        foreach (var c in hash.AsSpan(7))
        {
            if (!Alphabet.Contains(c, StringComparison.Ordinal))
            {
                return $"'{c}' is not a bcrypt base64 character";
            }
        }

        return null;
    }

    /// <summary>The cost of a hash that passed <see cref="Validate"/>.</summary>
    public static int Cost(string hash) => ((hash[4] - '0') * 10) + (hash[5] - '0');

    /// <summary>A fixed hash of an unknown password at <paramref name="cost"/> (clamped to 4..14).</summary>
    public static string DummyHash(int cost) => DummyHashes[Math.Clamp(cost, MinCost, MaxCost) - MinCost];
}
