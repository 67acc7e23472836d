using System;
using System.Globalization;
using System.Linq;
using System.Threading;

namespace EchoPS.Measure
{
    /// <summary>
    /// The whole-run bound of each figure (issue 23, item 3): every read of a figure is bounded by the timeout, but a
    /// server that answers one byte a second answers every read in time, so each figure for one server in one round
    /// also gets a bound on its whole run. <see cref="MeasureOptions.FigureDeadline"/> sets one bound for all;
    /// otherwise it is derived from the figure's size, with room for the slowest honest server of the lab series
    /// (a fork per connection on a busy machine) many times over. A figure that reaches its bound stops, and its
    /// server's result says TimedOut with what was done by then.
    /// </summary>
    internal static class FigureBounds
    {
        // Per unit of work: about 100 times what a blocking server takes on loopback.
        private static readonly TimeSpan PerRoundTrip = TimeSpan.FromMilliseconds(5);
        private static readonly TimeSpan PerConnection = TimeSpan.FromMilliseconds(10);
        // The capacity probe closes its sockets at T and then waits this long at most for its clients to end.
        private static readonly TimeSpan CapacityClose = TimeSpan.FromSeconds(5);

        /// <summary>The bound of one figure for one server in one round; <see cref="MeasureFigure.None"/> is the first check.</summary>
        internal static TimeSpan For(MeasureFigure figure, MeasureOptions o)
        {
            if (o.FigureDeadline is TimeSpan given)
                return given;
            var start = Times(o.Timeout, 2); // a connect and a first read, each within the timeout
            switch (figure)
            {
                case MeasureFigure.RoundTrip:
                    return Cap(start + Times(PerRoundTrip, o.RoundTripCount + 1));
                case MeasureFigure.Stream:
                    return Cap(start + o.StreamDuration);
                case MeasureFigure.Connections:
                    return Cap(start + Times(PerConnection, o.ConnectionCount));
                case MeasureFigure.Slots:
                    return Cap(start + Times(o.SlotHold + o.SlotHold, o.SlotClients));
                case MeasureFigure.Capacity:
                    return Cap(start + o.CapacityWait + CapacityClose);
                case MeasureFigure.Load:
                    // Each step: its connect wait, its time, and at most 5 s each for the connects and the loops to end once closed.
                    return Cap(start + Times(EchoServerMeasurer.LoadConnectWait(o) + o.LoadDuration + CapacityClose + CapacityClose, o.LoadClients?.Length ?? 1));
                default:
                    return Cap(start);
            }
        }

        /// <summary>The bound of the whole run: the first check of each server, then every figure of every server in every round.</summary>
        internal static TimeSpan Whole(MeasureOptions o, int servers, MeasureFigure[] figures)
        {
            var round = TimeSpan.Zero;
            foreach (var figure in figures)
                round += For(figure, o);
            return Times(For(MeasureFigure.None, o) + Times(round, o.Rounds), servers);
        }

        /// <summary>"Bounds per server and round: RoundTrip 60 s, Stream 11 s, ...; the whole run at most N s.", for -Verbose.</summary>
        internal static string Describe(MeasureOptions o, int servers)
        {
            var figures = Figures(o);
            var parts = new string[figures.Length];
            for (int i = 0; i < figures.Length; i++)
                parts[i] = figures[i] + " " + Net.InvariantFormat.Seconds(For(figures[i], o));
            return $"Bounds per server and round{(o.FigureDeadline != null ? " (-DeadlineSec)" : "")}: first check {Net.InvariantFormat.Seconds(For(MeasureFigure.None, o))}, " +
                $"{string.Join(", ", parts)}; the whole run at most {Net.InvariantFormat.Seconds(Whole(o, servers, figures))}.";
        }

        /// <summary>The figures asked for, in the order they run.</summary>
        internal static MeasureFigure[] Figures(MeasureOptions o) =>
            new[] { MeasureFigure.RoundTrip, MeasureFigure.Stream, MeasureFigure.Connections, MeasureFigure.Slots, MeasureFigure.Capacity, MeasureFigure.Load }
                .Where(f => (o.Figures & f) != 0).ToArray();

        private static TimeSpan Times(TimeSpan t, long n) =>
            TimeSpan.FromTicks((long)Math.Min(t.Ticks * (double)n, TimeSpan.MaxValue.Ticks / 4));

        private static TimeSpan Cap(TimeSpan t) => t < Client.EchoClientOptions.MaxDeadline ? t : Client.EchoClientOptions.MaxDeadline;
    }

    /// <summary>
    /// The clock of one probe figure (Connections, Capacity): at its bound it closes the probe's sockets, which ends
    /// whatever call is blocked; the figure then reports TimedOut with what was done.
    /// </summary>
    internal sealed class FigureClock : IDisposable
    {
        private readonly object _gate = new object();
        private readonly Timer _timer;
        private bool _over;
        private volatile bool _reached;

        internal FigureClock(TimeSpan bound, ProbeSockets sockets)
        {
            Bound = bound;
            _timer = new Timer(_ =>
            {
                lock (_gate)
                {
                    if (_over)
                        return;
                    _reached = true;
                    sockets.Dispose();
                }
            }, null, bound, Timeout.InfiniteTimeSpan);
        }

        internal TimeSpan Bound { get; }

        /// <summary>Whether the bound has passed (and the probe's sockets were closed).</summary>
        internal bool Reached => _reached;

        /// <summary>The message of a figure stopped at its bound: what was done by then.</summary>
        internal string Message(MeasureFigure figure, string done) => string.Format(CultureInfo.InvariantCulture,
            "{0} reached its bound of {1} for the whole figure (-DeadlineSec) and stopped: {2}.", figure, Net.InvariantFormat.Seconds(Bound), done);

        public void Dispose()
        {
            lock (_gate)
                _over = true;
            _timer.Dispose();
        }
    }
}
