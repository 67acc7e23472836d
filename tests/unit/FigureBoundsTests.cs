using EchoPS.Measure;

namespace EchoPS.Tests
{
    /// <summary>The whole-run bound of each of Measure-EchoServer's figures (issue 23, item 3): as documented, finite, and -DeadlineSec when given.</summary>
    public class FigureBoundsTests
    {
        [Theory]
        [InlineData(MeasureFigure.None, 10.0)]          // the first check: twice the 5 s timeout
        [InlineData(MeasureFigure.RoundTrip, 60.005)]   // + 5 ms per round trip, 10,000 and the warm-up
        [InlineData(MeasureFigure.Stream, 11.0)]        // + the 1 s stream
        [InlineData(MeasureFigure.Connections, 20.0)]   // + 10 ms per connection, 1,000
        [InlineData(MeasureFigure.Slots, 13.2)]         // + twice H per client, 8 x 0.4 s
        [InlineData(MeasureFigure.Capacity, 18.0)]      // + T and 5 s to close
        [InlineData(MeasureFigure.Load, 64.0)]          // + per step of 1, 10, 100, 1000: 2.5 s to connect, 1 s, 2 x 5 s to end
        public void Derives_each_default_bound_from_the_figures_size(MeasureFigure figure, double seconds)
        {
            Assert.Equal(seconds, FigureBounds.For(figure, new MeasureOptions()).TotalSeconds, 6);
        }

        [Fact]
        public void Takes_the_given_bound_for_every_figure()
        {
            var o = new MeasureOptions { FigureDeadline = TimeSpan.FromSeconds(2) };
            foreach (var figure in new[] { MeasureFigure.None, MeasureFigure.RoundTrip, MeasureFigure.Stream, MeasureFigure.Connections, MeasureFigure.Slots, MeasureFigure.Capacity, MeasureFigure.Load })
                Assert.Equal(TimeSpan.FromSeconds(2), FigureBounds.For(figure, o));
        }

        [Fact]
        public void Bounds_the_whole_run_and_says_so()
        {
            var o = new MeasureOptions { Figures = MeasureFigure.Connections, Rounds = 1, ConnectionCount = 5, Timeout = TimeSpan.FromSeconds(3) };
            var text = FigureBounds.Describe(o, 1);
            Assert.Contains("first check 6 s, Connections 6.05 s; the whole run at most 12.05 s", text);
            // Two servers over three rounds: each server's first check, then every figure of every server in every round.
            var all = new MeasureOptions();
            var whole = FigureBounds.Whole(all, 2, FigureBounds.Figures(all));
            Assert.Equal(2 * (10 + 3 * (60.005 + 11 + 20 + 13.2 + 18 + 64)), whole.TotalSeconds, 3);
        }

        [Property(MaxTest = 300)]
        public Property Every_bound_is_positive_and_finite_for_any_size(int count, int connections, int clients)
        {
            var o = new MeasureOptions
            {
                RoundTripCount = 1 + Math.Abs(count % Client.EchoClientOptions.MaxCount),
                ConnectionCount = 1 + Math.Abs(connections % 10_000_000),
                SlotClients = 1 + Math.Abs(clients % MeasureOptions.MaxSlotClients),
                SlotHold = TimeSpan.FromMinutes(10),
                Timeout = TimeSpan.FromHours(1),
            };
            bool ok = true;
            foreach (var figure in FigureBounds.Figures(o))
            {
                var bound = FigureBounds.For(figure, o);
                ok &= bound > TimeSpan.Zero && bound <= Client.EchoClientOptions.MaxDeadline;
            }
            return ok.ToProperty();
        }

        [Fact]
        public void Refuses_a_bound_out_of_range()
        {
            var targets = new[] { new MeasureTarget(null, "127.0.0.1", 7) };
            Assert.Throws<ArgumentException>(() => new MeasureOptions { FigureDeadline = TimeSpan.Zero }.Validate(targets));
            new MeasureOptions { FigureDeadline = TimeSpan.FromSeconds(1) }.Validate(targets);
        }
    }
}
