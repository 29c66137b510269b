using Microsoft.Extensions.Configuration;

namespace Sockeye.Hosting;

/// <summary>
/// An endpoint's section over <c>EndpointDefaults</c>: a key the endpoint sets wins, any other comes from the
/// defaults. A section that is one value as a whole (a certificate, a list) comes whole from one of them, never
/// merged key by key: an endpoint's certificate path must not pick up the default certificate's key file.
/// </summary>
internal readonly record struct LayeredSection(IConfigurationSection? Own, IConfigurationSection? Defaults)
{
    /// <summary>The child <paramref name="key"/> of both layers.</summary>
    public LayeredSection Child(string key) => new(Existing(Own?.GetSection(key)), Existing(Defaults?.GetSection(key)));

    /// <summary>The child <paramref name="key"/> as a whole, from the endpoint if it has it, else from the defaults.</summary>
    public IConfigurationSection? Whole(string key) => Existing(Own?.GetSection(key)) ?? Existing(Defaults?.GetSection(key));

    /// <summary>Whether either layer has the section.</summary>
    public bool Exists => Own is not null || Defaults is not null;

    /// <summary>Whether only the defaults have it: then every endpoint without its own gets the same result.</summary>
    public bool FromDefaultsOnly => Own is null && Defaults is not null;

    private static IConfigurationSection? Existing(IConfigurationSection? section) => section is not null && section.Exists() ? section : null;
}
