using System.Reflection;
using System.Text;
using Sockeye.Cli;
using Sockeye.Hosting;

namespace Sockeye.Fuzz;

/// <summary>
/// Fuzz cases for what operators type: endpoint URLs, and sizes and durations in the configuration and on the command
/// line. Nothing may throw: a bad value is one line that says what is wrong. The promises, else
/// <see cref="InvalidOperationException"/>: a value accepted, written back the way the configuration prints it, reads
/// back as the same value; a rejected value changes nothing; and what the host's validation says of it is one line.
/// </summary>
public static class ConfigurationTarget
{
    private static readonly PropertyInfo[] s_settings =
    [
        .. SettingsBinder.Settings(typeof(SocketServerOptions)),
        .. SettingsBinder.Settings(typeof(ListenerOptions)),
    ];

    /// <summary>The input, as UTF-8, is an endpoint's <c>Url</c>.</summary>
    public static void Url(ReadOnlySpan<byte> data)
    {
        var url = Encoding.UTF8.GetString(data);
        var options = new SocketServerOptions();
        var error = EndpointUrl.TryListen(options, url, out var listener);
        if (error is not null)
        {
            if (listener is not null || options.Listeners.Count != 0 || error.Length == 0)
            {
                throw new InvalidOperationException($"'{url}' was refused ({error}) but left a listener behind.");
            }

            return;
        }

        if (listener is null || options.Listeners.Count != 1)
        {
            throw new InvalidOperationException($"'{url}' was accepted with {options.Listeners.Count} listener(s).");
        }

        var printed = EndpointUrl.Format(listener);
        var again = new SocketServerOptions();
        if (EndpointUrl.TryListen(again, printed, out var copy) is { } reread)
        {
            throw new InvalidOperationException($"'{url}' printed as '{printed}' is refused: {reread}");
        }

        if (copy!.ToString() != listener.ToString() || !Equals(copy.EndPoint, listener.EndPoint))
        {
            throw new InvalidOperationException($"'{url}' printed as '{printed}' reads back as {copy}, not {listener}.");
        }

        CheckValidationIsOneLine(options, url);
    }

    /// <summary>
    /// The first byte picks a setting of <see cref="SocketServerOptions"/> or <see cref="ListenerOptions"/>, or (255) the
    /// command line's size syntax (<c>64KiB</c>); the rest, as UTF-8, is its value.
    /// </summary>
    public static void Size(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        var text = Encoding.UTF8.GetString(data[1..]);
        if (data[0] == byte.MaxValue)
        {
            CommandLineSize(text);
        }
        else
        {
            Setting(s_settings[data[0] % s_settings.Length], text);
        }
    }

    private static void CommandLineSize(string text)
    {
        if (!ByteSize.TryParse(text, out var size))
        {
            return;
        }

        if (size.Bytes < 0)
        {
            throw new InvalidOperationException($"'{text}' reads as a negative size, {size.Bytes}.");
        }

        if (!ByteSize.TryParse(size.ToString(), out var again) || again != size)
        {
            throw new InvalidOperationException($"'{text}' is {size.Bytes} bytes, printed as '{size}', which reads back as {again.Bytes}.");
        }
    }

    private static void Setting(PropertyInfo property, string text)
    {
        var options = new SocketServerOptions();
        var listener = options.ListenLocalhost(0);
        object target = property.DeclaringType == typeof(ListenerOptions) ? listener : options;
        var before = property.GetValue(target);
        if (SettingsBinder.TrySet(target, property, text, property.Name) is not null)
        {
            if (!Equals(property.GetValue(target), before))
            {
                throw new InvalidOperationException($"{property.Name}: '{text}' was refused but changed the value from {before} to {property.GetValue(target)}.");
            }

            return;
        }

        var value = property.GetValue(target);
        var printed = SettingsBinder.Format(value);
        var fresh = property.DeclaringType == typeof(ListenerOptions) ? (object)new SocketServerOptions().ListenLocalhost(0) : new SocketServerOptions();
        if (SettingsBinder.TrySet(fresh, property, printed, property.Name) is { } error)
        {
            throw new InvalidOperationException($"{property.Name}: '{text}' printed as '{printed}' is refused: {error}");
        }

        if (!Equals(property.GetValue(fresh), value))
        {
            throw new InvalidOperationException($"{property.Name}: '{text}' is {value}, printed as '{printed}', which reads back as {property.GetValue(fresh)}.");
        }

        CheckValidationIsOneLine(options, $"{property.Name}={text}");
    }

    private static void CheckValidationIsOneLine(SocketServerOptions options, string input)
    {
        var result = new SocketServerOptionsValidation().Validate(null, options);
        if (result.Failed && (string.IsNullOrWhiteSpace(result.FailureMessage) || result.FailureMessage.Contains('\n', StringComparison.Ordinal)))
        {
            throw new InvalidOperationException($"'{input}': the host's validation says '{result.FailureMessage}', not one line.");
        }
    }
}
