using Microsoft.Extensions.Options;

namespace Sockeye.Hosting;

/// <summary>
/// Checks the server's options when the host starts, with the library's own rules, and words a failure as one line
/// that names the setting.
/// </summary>
internal sealed class SocketServerOptionsValidation : IValidateOptions<SocketServerOptions>
{
    private const string Section = SockeyeConfiguration.SectionName;

    public ValidateOptionsResult Validate(string? name, SocketServerOptions options)
    {
        try
        {
            options.Validate();
            return ValidateOptionsResult.Success;
        }
        catch (InvalidOperationException) when (options.Listeners.Count == 0)
        {
            return ValidateOptionsResult.Fail(
                $"{Section} has no endpoint to listen on: add one to the configuration, such as " +
                $"\"{Section}\": {{ \"Endpoints\": {{ \"Main\": {{ \"Url\": \"tcp://localhost:5000\" }} }} }}, or in code with Configure(options => options.Listen(...)).");
        }
        catch (ArgumentException ex)
        {
            return ValidateOptionsResult.Fail(Describe(ex, Section));
        }
        catch (InvalidOperationException ex)
        {
            return ValidateOptionsResult.Fail($"{Section}: {ex.Message}");
        }
    }

    /// <summary>
    /// <c>Sockeye:MaxMessageSize must be greater than zero. It is 0.</c>: the library's refusal of a setting, in the
    /// <paramref name="section"/> the setting is a key of.
    /// </summary>
    public static string Describe(ArgumentException exception, string section)
    {
        // The message ends with " (Parameter 'X')" and, for a range, a line with the value: keep the sentence.
        var sentence = exception.Message.Split('\n')[0].Replace($" (Parameter '{exception.ParamName}')", string.Empty, StringComparison.Ordinal).Trim();
        var value = exception is ArgumentOutOfRangeException { ActualValue: { } actual } ? $" It is {SettingsBinder.Format(actual)}." : string.Empty;
        var separator = exception.ParamName is { } setting && sentence.StartsWith(setting, StringComparison.Ordinal) ? ":" : ": ";
        return $"{section}{separator}{sentence}{value}";
    }
}
