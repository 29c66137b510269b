using Sockeye.Hosting;

namespace Sockeye.Tests.Hosting;

/// <summary>The kinds of option the library may add: each is configurable by its name, with no line to add.</summary>
public class SettingsBinderTests
{
    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("Limit", "12", "12")]
    [InlineData("Limit", "", null)]
    [InlineData("Limit", "null", null)]
    [InlineData("Timeout", "1.5", "1.5")]
    [InlineData("Timeout", "00:02:00", "120")]
    [InlineData("Timeout", null, null)]
    [InlineData("Mode", "fast", "Fast")]
    [InlineData("Ratio", "0.25", "0.25")]
    [InlineData("Name", "north", "north")]
    public Task A_setting_reads_and_writes_back(string name, string? text, string? written)
    {
        var options = new SampleOptions { Limit = 7, Timeout = TimeSpan.FromSeconds(7) };
        var property = SettingsBinder.Settings(typeof(SampleOptions)).Single(p => p.Name == name);

        Assert.Null(SettingsBinder.TrySet(options, property, text, $"Sample:{name}"));

        Assert.Equal(written, SettingsBinder.Format(property.GetValue(options)));
        return Task.CompletedTask;
    }

    [Theory(Timeout = Timeouts.Fast)]
    [InlineData("Limit", "many", "Sample:Limit: 'many' is not a whole number or null.")]
    [InlineData("Mode", "1", "Sample:Mode: '1' is not one of Slow, Fast.")]
    [InlineData("Mode", "", "Sample:Mode: '' is not one of Slow, Fast.")]
    [InlineData("Ratio", "NaN", "Sample:Ratio: 'NaN' is not a number.")]
    public Task A_bad_value_says_what_the_setting_takes(string name, string text, string expected)
    {
        var property = SettingsBinder.Settings(typeof(SampleOptions)).Single(p => p.Name == name);

        Assert.Equal(expected, SettingsBinder.TrySet(new SampleOptions(), property, text, $"Sample:{name}"));
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Only_public_read_write_properties_of_simple_types_are_settings()
    {
        Assert.Equal(["Limit", "Mode", "Name", "Ratio", "Timeout"], SettingsBinder.Settings(typeof(SampleOptions)).Select(p => p.Name));
        return Task.CompletedTask;
    }

    public enum SampleMode
    {
        Slow,
        Fast,
    }

    public sealed class SampleOptions
    {
        public int? Limit { get; set; }

        public TimeSpan? Timeout { get; set; }

        public SampleMode Mode { get; set; }

        public double Ratio { get; set; }

        public string Name { get; set; } = string.Empty;

        public string ReadOnly { get; } = "x";

        public IList<string> Items { get; set; } = [];

        internal int Hidden { get; set; }
    }
}
