using System.Collections.Generic;
using System.Linq;
using System.Net;
using EchoPS.Server;

namespace EchoPS.Tests
{
    /// <summary>
    /// The ClientEventFolder builds an event object only for an event it passes on: client events above the rate
    /// limit are counted as values and cost no allocation, and still show up in the Summary.
    /// </summary>
    public class EventFoldingTests
    {
        private static readonly IPAddress Client = IPAddress.Parse("192.0.2.7");

        [Fact]
        public void Events_above_the_limit_are_folded_without_allocating_and_summed_in_the_summaries()
        {
            var passed = new List<EchoServerEvent>();
            var sink = new Action<EchoServerEvent>(e => { lock (passed) passed.Add(e); });
            long folding = long.MaxValue;
            using (var folder = new ClientEventFolder(7, "127.0.0.1:8080", 2, sink))
            {
                // Two pass (the limit), the first folded one tallies its source (a dictionary entry): then a steady state.
                for (int i = 0; i < 3; i++)
                    folder.Post(EchoServerEventKind.Connected, Client, 40000 + i);
                passed.Capacity = 64;
                // Each attempt takes far less than the folder's one-second window; a window that ends during one (a
                // slow machine) passes events and builds a summary there, so the quietest of three attempts counts.
                for (int attempt = 0; attempt < 3; attempt++)
                {
                    long before = GC.GetAllocatedBytesForCurrentThread();
                    for (int i = 0; i < 1000; i++)
                    {
                        folder.Post(EchoServerEventKind.Connected, Client, 41000 + i);
                        folder.Post(EchoServerEventKind.Disconnected, Client, 41000 + i, 32, 32, TimeSpan.FromMilliseconds(1),
                            DisconnectReason.ClientClosed, null);
                    }
                    folding = Math.Min(folding, GC.GetAllocatedBytesForCurrentThread() - before);
                }

                // A server event flushes the pending summary first.
                folder.Post(EchoServerEvent.Stopped(7, "127.0.0.1:8080", 3003, 96000, 96000, TimeSpan.FromSeconds(1)));
            }
            Assert.Equal(0, folding);
            lock (passed)
            {
                Assert.Equal(EchoServerEventKind.Stopped, passed[passed.Count - 1].Kind);
                Assert.Equal(EchoServerEventKind.Summary, passed[passed.Count - 2].Kind);
                var summaries = passed.FindAll(e => e.Kind == EchoServerEventKind.Summary);
                var connected = passed.FindAll(e => e.Kind == EchoServerEventKind.Connected);
                var disconnected = passed.FindAll(e => e.Kind == EchoServerEventKind.Disconnected);
                // Every event counted once: passed one by one, or in a summary.
                Assert.Equal(3003, connected.Count + summaries.ConvertAll(e => e.FoldedConnected).Sum());
                Assert.Equal(3000, disconnected.Count + summaries.ConvertAll(e => e.FoldedDisconnected).Sum());
                Assert.Equal(96000, 32 * disconnected.Count + summaries.ConvertAll(e => e.BytesEchoed).Sum());
                Assert.All(connected, e =>
                {
                    Assert.StartsWith("192.0.2.7:4", e.RemoteEndPoint);
                    Assert.Equal("127.0.0.1:8080", e.LocalEndPoint);
                    Assert.Null(e.DurationMs);
                });
                Assert.All(summaries.Where(e => e.FoldedConnected > 0), e => Assert.StartsWith("192.0.2.7 (", e.BusiestSources));
            }
        }

        [Fact]
        public void With_no_limit_every_client_event_is_built_with_its_endpoints_and_figures()
        {
            var passed = new List<EchoServerEvent>();
            using (var folder = new ClientEventFolder(3, "[::1]:9000", 0, passed.Add))
                folder.Post(EchoServerEventKind.Disconnected, IPAddress.IPv6Loopback, 5000, 10, 9, TimeSpan.FromMilliseconds(2.5),
                    DisconnectReason.ByteLimit, "reached the cap of 10 bytes");
            var e = Assert.Single(passed);
            Assert.Equal(3, e.ServerId);
            Assert.Equal("[::1]:9000", e.LocalEndPoint);
            Assert.Equal("[::1]:5000", e.RemoteEndPoint);
            Assert.Equal(10, e.BytesReceived);
            Assert.Equal(9, e.BytesEchoed);
            Assert.Equal(2.5, e.DurationMs);
            Assert.Equal(DisconnectReason.ByteLimit, e.Reason);
            Assert.Equal("reached the cap of 10 bytes", e.Message);
            Assert.Null(e.ClientsServed);
        }
    }
}
