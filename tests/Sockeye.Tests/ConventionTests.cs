using System.Reflection;

namespace Sockeye.Tests;

public class ConventionTests
{
    [Fact(Timeout = Timeouts.Fast)]
    public Task Every_test_declares_a_timeout()
    {
        var untimed = typeof(ConventionTests).Assembly.GetTypes()
            .SelectMany(type => type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Select(method => (method, fact: method.GetCustomAttribute<FactAttribute>()))
            .Where(pair => pair.fact is not null && pair.fact.Timeout <= 0)
            .Select(pair => $"{pair.method.DeclaringType!.Name}.{pair.method.Name}")
            .ToList();

        Assert.Empty(untimed);
        return Task.CompletedTask;
    }

    [Fact(Timeout = Timeouts.Fast)]
    public Task Timed_tests_are_asynchronous_so_the_timeout_can_fire()
    {
        // xunit enforces Timeout only on tests that return a Task.
        var synchronous = typeof(ConventionTests).Assembly.GetTypes()
            .SelectMany(type => type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Where(method => method.GetCustomAttribute<FactAttribute>() is not null && method.ReturnType == typeof(void))
            .Select(method => $"{method.DeclaringType!.Name}.{method.Name}")
            .ToList();

        Assert.Empty(synchronous);
        return Task.CompletedTask;
    }
}
