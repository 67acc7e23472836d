using System.Net;
using EchoPS.Client;
using EchoPS.LockDown;
using EchoPS.Server;

namespace EchoPS.Tests
{
    /// <summary>Option validation of the engine's server and client: every limit's edges, and messages that name the value.</summary>
    public class OptionsTests
    {
        [Fact]
        public void Server_defaults_are_the_safe_ones_and_valid()
        {
            var options = new EchoServerOptions();
            options.Validate();
            Assert.Equal(IPAddress.Loopback, options.Address);
            Assert.Equal(8080, options.Port);
            Assert.Equal(TimeSpan.FromSeconds(60), options.IdleTimeout);
            Assert.Equal(TimeSpan.FromSeconds(10), options.SendTimeout);
            Assert.Empty(options.AllowList);
            Assert.Equal("allow any address, idle timeout 60 s, send timeout 10 s, max slot hold 60 s while others wait", options.DescribeLimits());
        }

        public static TheoryData<string, Action<EchoServerOptions>> ServerEdges => new TheoryData<string, Action<EchoServerOptions>>
        {
            { "Port 0", o => o.Port = 0 },
            { "Port 65535", o => o.Port = 65535 },
            { "Backlog 1", o => o.Backlog = 1 },
            { "Backlog 65535", o => o.Backlog = 65535 },
            { "BufferSize 256", o => o.BufferSize = 256 },
            { "BufferSize 16 MiB", o => o.BufferSize = 16 * 1024 * 1024 },
            { "IdleTimeout 0", o => o.IdleTimeout = TimeSpan.Zero },
            { "SendTimeout 1 day", o => o.SendTimeout = TimeSpan.FromDays(1) },
            { "MaxSessionDuration 1 tick", o => o.MaxSessionDuration = TimeSpan.FromTicks(1) },
            { "MaxBytesPerConnection max", o => o.MaxBytesPerConnection = long.MaxValue },
            { "MaxBytesPerSecond 1", o => o.MaxBytesPerSecond = 1 },
            { "MaxConnectionsPerMinute max", o => o.MaxConnectionsPerMinute = int.MaxValue },
            { "AllowList", o => o.AllowList = new[] { AddressRange.Parse("10.0.0.0/8") } },
        };

        [Theory]
        [MemberData(nameof(ServerEdges))]
        public void Server_accepts_each_limit_at_its_edge(string name, Action<EchoServerOptions> set)
        {
            var options = new EchoServerOptions();
            set(options);
            var ex = Record.Exception(options.Validate);
            Assert.True(ex == null, $"{name}: {ex?.Message}");
        }

        public static TheoryData<Action<EchoServerOptions>, string, string> ServerOutOfRange => new TheoryData<Action<EchoServerOptions>, string, string>
        {
            { o => o.Port = -1, "Port", "Port -1 is out of range: allowed is 0 to 65535." },
            { o => o.Port = 65536, "Port", "Port 65536 is out of range: allowed is 0 to 65535." },
            { o => o.Backlog = 0, "Backlog", "Backlog 0 is out of range: allowed is 1 to 65535." },
            { o => o.BufferSize = 255, "BufferSize", "BufferSize 255 is out of range: allowed is 256 to 16777216." },
            { o => o.BufferSize = 16 * 1024 * 1024 + 1, "BufferSize", "allowed is 256 to 16777216" },
            { o => o.IdleTimeout = TimeSpan.FromTicks(-1), "IdleTimeout", "allowed is 0 (none) to 1.00:00:00" },
            { o => o.SendTimeout = TimeSpan.FromDays(1) + TimeSpan.FromTicks(1), "SendTimeout", "SendTimeout 1.00:00:00.0000001 is out of range" },
            { o => o.MaxSessionDuration = TimeSpan.FromSeconds(-1), "MaxSessionDuration", "MaxSessionDuration -00:00:01 is out of range" },
            { o => o.MaxBytesPerConnection = -1, "MaxBytesPerConnection", "MaxBytesPerConnection -1 is out of range" },
            { o => o.MaxConnectionsPerMinute = -1, "MaxConnectionsPerMinute", "MaxConnectionsPerMinute -1 is out of range" },
            { o => o.MaxTotalConnectionsPerMinute = -1, "MaxTotalConnectionsPerMinute", "MaxTotalConnectionsPerMinute -1 is out of range" },
            { o => o.MaxBytesPerSecond = -1, "MaxBytesPerSecond", "MaxBytesPerSecond -1 is out of range" },
            { o => o.Address = null, "Address", "Address must be an IP address." },
            { o => o.AllowList = null, "AllowList", "AllowList must be a list" },
        };

        [Theory]
        [MemberData(nameof(ServerOutOfRange))]
        public void Server_refuses_a_value_out_of_range_naming_it_and_what_is_allowed(Action<EchoServerOptions> set, string parameter, string message)
        {
            var options = new EchoServerOptions();
            set(options);
            var ex = Assert.ThrowsAny<ArgumentException>(options.Validate);
            Assert.Equal(parameter, ex.ParamName);
            Assert.Contains(message, ex.Message);
        }

        [Fact]
        public void The_server_validates_its_options_before_anything_is_bound()
        {
            var ex = Assert.ThrowsAny<ArgumentException>(() => new BlockingEchoServer(new EchoServerOptions { Backlog = 0 }, _ => { }));
            Assert.Equal("Backlog", ex.ParamName);
        }

        [Fact]
        public void Limits_describe_every_cap_that_is_set()
        {
            var options = new EchoServerOptions
            {
                AllowList = new[] { AddressRange.Parse("10.0.0.0/8"), AddressRange.Parse("::1") },
                IdleTimeout = TimeSpan.Zero,
                SendTimeout = TimeSpan.FromMilliseconds(2500),
                MaxBytesPerConnection = 1048576,
                MaxSessionDuration = TimeSpan.FromSeconds(30),
                MaxConnectionsPerMinute = 5,
                MaxTotalConnectionsPerMinute = 50,
                MaxBytesPerSecond = 1000,
            };
            Assert.Equal("allow 10.0.0.0/8, ::1/128, idle timeout none, send timeout 2.5 s, max 1048576 bytes per connection, "
                + "max session 30 s, max slot hold 60 s while others wait, max 5 connections/min per source (IPv6 per /64), max 50 connections/min overall, max 1000 bytes/s per connection",
                options.DescribeLimits());
        }

        [Fact]
        public void Client_defaults_are_those_of_Test_EchoRoundTrip_and_valid()
        {
            var options = new EchoClientOptions();
            options.Validate();
            Assert.Equal(8080, options.Port);
            Assert.Equal(EchoTestMode.RoundTrip, options.Mode);
            Assert.Equal(4, options.Count);
            Assert.Equal(32, options.MessageSize);
            Assert.Equal(TimeSpan.FromSeconds(5), options.Timeout);
            Assert.Equal(TimeSpan.FromMilliseconds(300), options.Hold);
            Assert.True(options.NoDelay);
        }

        [Fact]
        public void The_message_size_is_the_payloads_when_one_is_given()
        {
            Assert.Equal(3, new EchoClientOptions { Size = 100, Payload = new byte[3] }.MessageSize);
        }

        public static TheoryData<Action<EchoClientOptions>, string> ClientOutOfRange => new TheoryData<Action<EchoClientOptions>, string>
        {
            { o => o.Port = 0, "Port 0 is out of range: allowed is 1 to 65535." },
            { o => o.Port = 65536, "Port 65536 is out of range: allowed is 1 to 65535." },
            { o => o.Count = 0, "Count 0 is out of range: allowed is 1 to 10000000." },
            { o => o.Count = 10_000_001, "Count 10000001 is out of range" },
            { o => o.Size = 0, "Size 0 is out of range: allowed is 1 to 16777216." },
            { o => o.Size = 16 * 1024 * 1024 + 1, "Size 16777217 is out of range" },
            { o => o.Concurrency = 257, "Concurrency 257 is out of range: allowed is 1 to 256." },
            { o => o.Payload = new byte[0], "The payload has 0 bytes: allowed is 1 to 16777216." },
            { o => o.Payload = new byte[16 * 1024 * 1024 + 1], "The payload has 16777217 bytes" },
            { o => o.Timeout = TimeSpan.Zero, "must be positive" },
            { o => o.Interval = TimeSpan.FromTicks(-1), "cannot be negative" },
            { o => o.Hold = TimeSpan.FromTicks(-1), "cannot be negative" },
            { o => o.Mode = EchoTestMode.Throughput, "Throughput mode needs TotalBytes, Duration or both." },
            { o => { o.Mode = EchoTestMode.Throughput; o.TotalBytes = 0; }, "must be positive" },
            { o => { o.Mode = EchoTestMode.Throughput; o.Duration = TimeSpan.Zero; }, "must be positive" },
        };

        [Theory]
        [MemberData(nameof(ClientOutOfRange))]
        public void Client_refuses_a_value_out_of_range_with_a_message_naming_it(Action<EchoClientOptions> set, string message)
        {
            var options = new EchoClientOptions();
            set(options);
            var ex = Assert.ThrowsAny<ArgumentException>(options.Validate);
            Assert.Contains(message, ex.Message);
            Assert.Throws(ex.GetType(), () => new EchoClient(options));
        }

        [Fact]
        public void Client_accepts_each_limit_at_its_edge()
        {
            foreach (var set in new Action<EchoClientOptions>[]
            {
                o => o.Port = 1, o => o.Port = 65535, o => o.Count = 10_000_000, o => o.Size = 16 * 1024 * 1024,
                o => o.Concurrency = 256, o => o.Payload = new byte[1], o => o.Timeout = TimeSpan.FromTicks(1),
                o => { o.Mode = EchoTestMode.Throughput; o.TotalBytes = 1; },
                o => { o.Mode = EchoTestMode.Throughput; o.Duration = TimeSpan.FromTicks(1); },
            })
            {
                var options = new EchoClientOptions();
                set(options);
                options.Validate();
            }
        }
    }
}
