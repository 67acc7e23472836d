using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using EchoPS.LockDown;
using EchoPS.Net;
using EchoPS.Server;

namespace EchoPS.Tests
{
    /// <summary>
    /// The shared socket rules (EchoPS.Net), which server and client both use: the socket-error table, timeouts in
    /// whole milliseconds (rounded up, never 0 for a positive time), and invariant sizes, counts and seconds.
    /// </summary>
    public class NetRulesTests
    {
        // The table as it reads: each meaning with the errors that have it.
        private static readonly (SocketFault Fault, SocketError[] Errors)[] Meanings =
        {
            (SocketFault.TimedOut, new[] { SocketError.TimedOut, SocketError.WouldBlock }), // SO_RCVTIMEO running out is EAGAIN
            (SocketFault.Refused, new[] { SocketError.ConnectionRefused }),
            (SocketFault.Reset, new[] { SocketError.ConnectionReset, SocketError.ConnectionAborted, SocketError.Shutdown }), // Shutdown: EPIPE
            (SocketFault.Unreachable, new[] { SocketError.HostUnreachable, SocketError.NetworkUnreachable, SocketError.HostDown, SocketError.NetworkDown }),
            (SocketFault.AddressInUse, new[] { SocketError.AddressAlreadyInUse }),
            (SocketFault.AddressNotAvailable, new[] { SocketError.AddressNotAvailable }),
            (SocketFault.FamilyNotSupported, new[] { SocketError.AddressFamilyNotSupported, SocketError.ProtocolFamilyNotSupported }),
            (SocketFault.AccessDenied, new[] { SocketError.AccessDenied }),
            (SocketFault.Other, new[] { SocketError.NoBufferSpaceAvailable, SocketError.TooManyOpenSockets, SocketError.MessageSize }),
        };

        public static TheoryData<SocketError, SocketFault> ErrorsAndMeanings()
        {
            var data = new TheoryData<SocketError, SocketFault>();
            foreach (var (fault, errors) in Meanings)
                foreach (var error in errors)
                    data.Add(error, fault);
            return data;
        }

        [Theory]
        [MemberData(nameof(ErrorsAndMeanings))]
        public void Every_socket_error_has_one_meaning(SocketError error, SocketFault expected)
        {
            Assert.Equal(expected, SocketErrors.Classify(error));
            Assert.Equal(expected, SocketErrors.Classify(new SocketException((int)error)));
        }

        [Fact]
        public void A_closed_socket_and_a_non_socket_error_have_their_own_meanings()
        {
            Assert.Equal(SocketFault.Closed, SocketErrors.Classify(new ObjectDisposedException("socket")));
            Assert.Equal(SocketFault.Other, SocketErrors.Classify(new InvalidOperationException()));
            Assert.True(SocketErrors.IsTimeout(new SocketException((int)SocketError.WouldBlock)));
            Assert.False(SocketErrors.IsTimeout(new ObjectDisposedException("socket")));
        }

        [Fact]
        public void An_error_is_named_by_its_code_then_the_system_text()
        {
            var ex = new SocketException((int)SocketError.ConnectionRefused);
            Assert.Equal($"ConnectionRefused ({ex.Message})", SocketErrors.Describe(ex));
            Assert.Equal("gone", SocketErrors.Describe(new InvalidOperationException("gone")));
        }

        [Theory]
        [InlineData(0, 0)]                 // zero is none
        [InlineData(-5, 0)]
        [InlineData(0.0001, 1)]            // a positive time never becomes 0 (none)
        [InlineData(1, 1)]
        [InlineData(1.2, 2)]               // rounded up
        [InlineData(10000, 10000)]
        [InlineData(1e12, int.MaxValue)]   // clamped to what the option holds
        public void A_timeout_is_whole_milliseconds_rounded_up(double milliseconds, int expected)
        {
            Assert.Equal(expected, SocketTimeouts.Milliseconds(TimeSpan.FromTicks((long)(milliseconds * TimeSpan.TicksPerMillisecond))
                + (milliseconds > 0 && milliseconds < 0.001 ? TimeSpan.FromTicks(1) : TimeSpan.Zero)));
        }

        [Property]
        public bool A_positive_timeout_in_ticks_never_rounds_down_or_to_zero(PositiveInt ms)
        {
            long ticks = ms.Get * Stopwatch.Frequency / 1000 + 1;
            int got = SocketTimeouts.Milliseconds(ticks);
            return got >= 1 && got * Stopwatch.Frequency >= ticks * 1000 - Stopwatch.Frequency && got >= ms.Get;
        }

        [Fact]
        public void No_timeout_in_ticks_is_zero_and_a_tiny_one_is_one_millisecond()
        {
            Assert.Equal(0, SocketTimeouts.Milliseconds(long.MaxValue));
            Assert.Equal(1, SocketTimeouts.Milliseconds(1L));
            Assert.Equal(1, SocketTimeouts.Milliseconds(-1L));
            Assert.Equal(TimeSpan.FromSeconds(2), SocketTimeouts.Elapsed(0, SocketTimeouts.Ticks(TimeSpan.FromSeconds(2))));
        }

        [Theory]
        [InlineData("de-DE")]
        [InlineData("fr-FR")]
        [InlineData("en-US")]
        public void Sizes_counts_and_seconds_read_the_same_under_every_culture(string culture)
        {
            UnderCulture(culture, () =>
            {
                Assert.Equal("0.25 s", InvariantFormat.Seconds(TimeSpan.FromMilliseconds(250)));
                Assert.Equal("60 s", InvariantFormat.Seconds(TimeSpan.FromSeconds(60)));
                Assert.Equal("0.001 s", InvariantFormat.Seconds(TimeSpan.FromMilliseconds(1)));
                Assert.Equal("none", InvariantFormat.SecondsOrNone(TimeSpan.Zero));
                Assert.Equal("1.5 KiB", InvariantFormat.Bytes(1536));
                Assert.Equal("512 B", InvariantFormat.Bytes(512));
                Assert.Equal("12,000", InvariantFormat.Count(12000));
                Assert.Equal("1048576", InvariantFormat.Number(1048576));
                Assert.Equal("0.5", InvariantFormat.Number(0.5));
                Assert.Equal("2.25", InvariantFormat.Number(2.25));
            });
        }

        [Fact]
        public void The_limits_line_is_invariant_under_a_German_culture()
        {
            var options = new EchoServerOptions
            {
                AllowList = new[] { AddressRange.Parse("10.0.0.0/8") },
                IdleTimeout = TimeSpan.FromSeconds(0.5),
                SendTimeout = TimeSpan.FromSeconds(2.25),
                MaxBytesPerConnection = 1048576,
                MaxSessionDuration = TimeSpan.FromSeconds(1.5),
                MaxSlotHold = TimeSpan.FromSeconds(0.75),
                MaxConnectionsPerMinute = 1200,
                MaxTotalConnectionsPerMinute = 50000,
                MaxBytesPerSecond = 1000000,
                EventRateLimit = 2500,
            };
            string english = null, german = null, settings = null;
            UnderCulture("en-US", () => english = options.DescribeLimits());
            UnderCulture("de-DE", () =>
            {
                german = options.DescribeLimits();
                settings = options.DescribeSettings(", ");
            });
            Assert.Equal("allow 10.0.0.0/8, idle timeout 0.5 s, send timeout 2.25 s, max 1048576 bytes per connection, max session 1.5 s, "
                + "max slot hold 0.75 s while others wait, max 1200 connections/min per source (IPv6 per /64), max 50000 connections/min overall, "
                + "max 1000000 bytes/s per connection", german);
            Assert.Equal(english, german);
            Assert.Equal("backlog 128, buffer 65536 bytes, TCP_NODELAY on, " + german + ", client events above 2500/s folded into summaries", settings);
        }

        [Fact]
        public void A_socket_set_closes_every_socket_it_holds_and_refuses_new_ones_when_told()
        {
            bool refuse = false;
            using (var set = new SocketSet(() => refuse))
            {
                var a = set.Open(AddressFamily.InterNetwork, noDelay: true, timeoutMs: 1500);
                Assert.NotNull(a);
                Assert.True(a.NoDelay);
                Assert.Equal(1500, a.ReceiveTimeout);
                Assert.Equal(1500, a.SendTimeout);
                Assert.Equal(1, set.Count);
                set.CloseAll();
                Assert.Equal(0, set.Count);
                Assert.Throws<ObjectDisposedException>(() => a.Available);
                refuse = true;
                Assert.Null(set.Open(AddressFamily.InterNetwork, noDelay: false));
                refuse = false;
                Assert.NotNull(set.Open(AddressFamily.InterNetwork, noDelay: false));
                set.Dispose();
                Assert.Null(set.Open(AddressFamily.InterNetwork, noDelay: false));
                Assert.Equal(0, set.Count);
            }
        }

        internal static void UnderCulture(string name, Action action)
        {
            var saved = CultureInfo.CurrentCulture;
            var savedUi = CultureInfo.CurrentUICulture;
            try
            {
                CultureInfo.CurrentCulture = CultureInfo.CurrentUICulture = CultureInfo.GetCultureInfo(name);
                action();
            }
            finally
            {
                CultureInfo.CurrentCulture = saved;
                CultureInfo.CurrentUICulture = savedUi;
            }
        }
    }
}
