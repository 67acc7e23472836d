namespace EchoPS.Tests
{
    /// <summary>The injected clock's starting point: the engine takes "now" as a parameter, so tests choose it.</summary>
    internal static class TestClock
    {
        internal static readonly DateTime T0 = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    }
}
