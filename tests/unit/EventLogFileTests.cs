using System.IO;
using System.Linq;
using System.Net;
using System.Text.Json;
using System.Threading.Tasks;
using EchoPS.Logging;
using EchoPS.Server;

namespace EchoPS.Tests
{
    /// <summary>
    /// The -LogPath writer: one JSON object per event per line, whole lines only, and a size cap that moves the file
    /// to ".1" so that neither file passes it, also with several threads writing (the server thread and the folder's
    /// timer do).
    /// </summary>
    public class EventLogFileTests
    {
        private static EchoServerEvent Disconnected(int port, string message = null) =>
            EchoServerEvent.Client(3, "127.0.0.1:8080", EchoServerEventKind.Disconnected,
                new IPEndPoint(IPAddress.Loopback, port), 10, 10, TimeSpan.FromMilliseconds(1.5), DisconnectReason.ClientClosed, message);

        [Fact]
        public void An_event_is_one_line_of_json_with_its_fields_also_when_its_message_has_line_breaks()
        {
            var line = EventLogFile.ToJsonLine(Disconnected(40000, "two\nlines \"quoted\""));
            Assert.DoesNotContain("\n", line);
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            Assert.Equal("Disconnected", root.GetProperty("Kind").GetString());
            Assert.Equal("ClientClosed", root.GetProperty("Reason").GetString());
            Assert.Equal("127.0.0.1:40000", root.GetProperty("RemoteEndPoint").GetString());
            Assert.Equal(10, root.GetProperty("BytesEchoed").GetInt64());
            Assert.Equal(1.5, root.GetProperty("DurationMs").GetDouble());
            Assert.Equal("two\nlines \"quoted\"", root.GetProperty("Message").GetString());
        }

        [Fact]
        public void The_file_moves_to_dot_1_at_the_cap_and_keeps_whole_lines_from_several_writers()
        {
            var folder = Directory.CreateTempSubdirectory("echops-log-");
            try
            {
                var path = Path.Combine(folder.FullName, "events.jsonl");
                const long cap = EventLogFile.MinMaxBytes;
                using (var log = new EventLogFile(path, cap))
                {
                    Parallel.For(0, 4, writer =>
                    {
                        for (int i = 0; i < 50; i++)
                            log.Write(Disconnected(40000 + writer * 100 + i));
                    });
                    Assert.True(log.Rotations > 0);
                    Assert.Equal(0, log.Failures);
                }
                Assert.True(new FileInfo(path).Length <= cap);
                Assert.True(new FileInfo(path + ".1").Length <= cap);
                var lines = File.ReadAllLines(path + ".1").Concat(File.ReadAllLines(path)).ToArray();
                Assert.NotEmpty(lines);
                foreach (var line in lines)
                {
                    using var json = JsonDocument.Parse(line);
                    Assert.Equal("Disconnected", json.RootElement.GetProperty("Kind").GetString());
                }
            }
            finally
            {
                folder.Delete(true);
            }
        }

        [Fact]
        public void A_cap_below_one_line_is_refused()
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => new EventLogFile(Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("n")), EventLogFile.MinMaxBytes - 1));
        }

        [Fact]
        public void Signals_can_be_taken_over_on_this_runtime_and_given_back()
        {
            Assert.True(Hosting.StopSignals.Supported);
            using var signals = Hosting.StopSignals.Register(_ => { });
            if (OperatingSystem.IsLinux())
            {
                // SIGHUP is Ignored, not Registered, when this test process was started under nohup.
                Assert.Equal(new[] { "SIGHUP", "SIGTERM" }, signals.Registered.Concat(signals.Ignored).OrderBy(n => n));
                Assert.Empty(signals.Registered.Intersect(signals.Ignored));
                Assert.Equal(Hosting.StopSignals.StillIgnored(new[] { "SIGTERM", "SIGHUP" }, File.ReadAllText("/proc/self/status")), signals.Ignored);
            }
            Assert.Null(signals.Received);
        }

        [Theory]
        [InlineData("SigIgn:\t0000000000000000\n", "")]
        [InlineData("SigQ:\t0/96367\nSigIgn:\t0000000000001001\nSigCgt:\t00000003000244f8\n", "SIGHUP")]
        [InlineData("SigIgn:\t0000000000005000\n", "SIGTERM")]
        [InlineData("SigIgn:\t0000000000004001\n", "SIGTERM,SIGHUP")]
        [InlineData("Name:\tpwsh\n", "")]
        [InlineData(null, "")]
        public void A_signal_ignored_since_start_is_read_from_SigIgn(string status, string expected)
        {
            Assert.Equal(expected, string.Join(",", Hosting.StopSignals.StillIgnored(new[] { "SIGTERM", "SIGHUP" }, status)));
        }
    }
}
