using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace EchoPS.Measure
{
    /// <summary>
    /// The report's charts, drawn with OxyPlot and written as SVG (managed code only). Kept in its own class so that
    /// OxyPlot.dll is loaded only when a report is written. Every series has its own colour from the Okabe-Ito
    /// palette (distinct also for colour-blind readers), its own dash style and marker, and a line a little thicker
    /// than the next series', so series that lie on top of each other still show.
    /// </summary>
    internal static class MeasureCharts
    {
        private const int Width = 900;
        private const int Height = 500;

        /// <summary>The most points a timeline keeps per series (the capacity chart: 10,000 echoes were 9.8 MB of SVG).</summary>
        internal const int MaxTimelinePoints = 400;

        /// <summary>Okabe-Ito, in an order where neighbours differ most; yellow last (faint on white).</summary>
        internal static readonly OxyColor[] Palette =
        {
            OxyColor.FromRgb(0x00, 0x72, 0xB2), OxyColor.FromRgb(0xD5, 0x5E, 0x00), OxyColor.FromRgb(0x00, 0x9E, 0x73),
            OxyColor.FromRgb(0xCC, 0x79, 0xA7), OxyColor.FromRgb(0xE6, 0x9F, 0x00), OxyColor.FromRgb(0x56, 0xB4, 0xE9),
            OxyColor.FromRgb(0x00, 0x00, 0x00), OxyColor.FromRgb(0xF0, 0xE4, 0x42),
        };

        private static readonly LineStyle[] Dashes = { LineStyle.Solid, LineStyle.Dash, LineStyle.Dot, LineStyle.DashDot, LineStyle.LongDash, LineStyle.DashDotDot, LineStyle.LongDashDot, LineStyle.Solid };

        private static readonly MarkerType[] Markers = { MarkerType.Circle, MarkerType.Square, MarkerType.Diamond, MarkerType.Triangle, MarkerType.Cross, MarkerType.Plus, MarkerType.Star, MarkerType.Circle };

        /// <summary>Series i of n: its colour, dash and marker, and a line thicker the earlier it is drawn (later ones lie on top).</summary>
        private static T Style<T>(T series, int i, int n, bool markers) where T : LineSeries
        {
            series.Color = Palette[i % Palette.Length];
            series.LineStyle = Dashes[i % Dashes.Length];
            series.StrokeThickness = 2 + 1.5 * (n - 1 - i);
            if (markers)
            {
                series.MarkerType = Markers[i % Markers.Length];
                series.MarkerSize = 4 + 1.5 * (n - 1 - i);
                series.MarkerFill = series.Color;
                series.MarkerStroke = series.Color;
            }
            return series;
        }

        private const string Font = "DejaVu Sans, Verdana, sans-serif";
        private static readonly double[] Quantiles = BuildQuantiles();

        /// <summary>Writes every chart that has data; returns the files written, and why any chart was left out.</summary>
        internal static List<string> Write(string folder, IReadOnlyList<EchoServerMeasurement> results, List<string> skipped)
        {
            var files = new List<string>();
            Save(folder, "latency.svg", Latency(results), files, skipped, "latency.svg: no round trip figures.");
            Save(folder, "slots.svg", Slots(results), files, skipped, "slots.svg: no slots figures.");
            Save(folder, "capacity.svg", Capacity(results), files, skipped, "capacity.svg: no capacity figures.");
            Save(folder, "throughput.svg", Throughput(results), files, skipped, "throughput.svg: no stream figures.");
            Save(folder, "load.svg", Load(results), files, skipped, "load.svg: no load figures.");
            Save(folder, "servercost.svg", ServerCostChart(results), files, skipped, "servercost.svg: no server's CPU was observed (servers started by command, or found by port on this machine, are).");
            return files;
        }

        private static void Save(string folder, string name, PlotModel model, List<string> files, List<string> skipped, string why)
        {
            if (model == null)
            {
                skipped.Add(why);
                return;
            }
            string path = Path.Combine(folder, name);
            using (var stream = File.Create(path))
                new SvgExporter { Width = Width, Height = Height, UseVerticalTextAlignmentWorkaround = true, TextMeasurer = new DejaVuTextMeasurer() }.Export(model, stream);
            files.Add(path);
        }

        private static PlotModel NewModel(string title, string subtitle)
        {
            // DejaVu Sans (Linux's usual sans-serif; Verdana is its wide twin elsewhere), measured by DejaVuTextMeasurer.
            var model = new PlotModel { Title = title, Subtitle = subtitle, Background = OxyColors.White, DefaultFont = Font };
            // Below the plot, one entry a line.
            model.Legends.Add(new Legend { LegendPosition = LegendPosition.BottomCenter, LegendPlacement = LegendPlacement.Outside, LegendOrientation = LegendOrientation.Vertical });
            return model;
        }

        /// <summary>Round-trip time against percentile, on log axes, so the tail (p99, p99.9) is as visible as the median.</summary>
        private static PlotModel Latency(IReadOnlyList<EchoServerMeasurement> results)
        {
            var withData = results.Where(r => r.RttSamplesMs != null && r.RttSamplesMs.Length > 0).ToArray();
            if (withData.Length == 0)
                return null;
            var model = NewModel("Round-trip time by percentile",
                $"{withData[0].MessageSize}-byte messages, every round's samples together; lower is faster");
            // x = log10(1 / (1 - q)): 0 is the fastest, 1 is p90, 2 is p99, 3 is p99.9, so the tail gets as much room as the median.
            model.Axes.Add(new LinearAxis
            {
                Position = AxisPosition.Bottom,
                Title = "percentile",
                Minimum = 0,
                MajorStep = 1,
                MinorStep = 0.5,
                LabelFormatter = x => (100 * (1 - Math.Pow(10, -x))).ToString("0.###", CultureInfo.InvariantCulture) + "%",
                MajorGridlineStyle = LineStyle.Dot,
            });
            model.Axes.Add(new LogarithmicAxis { Position = AxisPosition.Left, Title = "round trip (µs)", MajorGridlineStyle = LineStyle.Dot, MinorGridlineStyle = LineStyle.None });
            for (int i = 0; i < withData.Length; i++)
            {
                var r = withData[i];
                var series = Style(new LineSeries { Title = r.Name }, i, withData.Length, markers: false);
                var samples = r.RttSamplesMs;
                foreach (double q in Quantiles)
                {
                    int rank = (int)Math.Ceiling(q * samples.Length);
                    if (q > 0 && rank >= samples.Length && q < 1)
                        break; // beyond what this many samples can tell
                    double ms = samples[Math.Min(samples.Length - 1, Math.Max(rank, 1) - 1)];
                    series.Points.Add(new DataPoint(-Math.Log10(1 - Math.Min(q, 1 - 1.0 / samples.Length)), ms * 1000));
                }
                model.Series.Add(series);
            }
            return model;
        }

        private static double[] BuildQuantiles()
        {
            var q = new List<double>();
            for (double x = 0; x < 0.9; x += 0.01) q.Add(x);
            for (double x = 0.9; x < 0.99; x += 0.001) q.Add(x);
            for (double x = 0.99; x < 0.999; x += 0.0001) q.Add(x);
            for (double x = 0.999; x < 0.99999; x += 0.00001) q.Add(x);
            q.Add(1);
            return q.ToArray();
        }

        /// <summary>The staircase: client k's wait for its first echo against k (a blocking server: one hold per step).</summary>
        private static PlotModel Slots(IReadOnlyList<EchoServerMeasurement> results)
        {
            var withData = results.Where(r => r.SlotWaitsMs != null && r.SlotWaitsMs.Any(w => w != null)).ToArray();
            if (withData.Length == 0)
                return null;
            var first = withData[0];
            var model = NewModel("Slots: each client's wait for its first echo",
                $"{first.SlotClients} clients connect together, each holds {first.SlotHoldMs:0} ms after its echo; clients in order of service");
            model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = "client k (in order of service)", Minimum = 0.5, Maximum = first.SlotClients + 0.5, MajorStep = Math.Max(1, first.SlotClients / 16), MinorStep = 1, MajorGridlineStyle = LineStyle.Dot });
            model.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Title = "wait for first echo (ms)", Minimum = 0, MajorGridlineStyle = LineStyle.Dot });
            for (int i = 0; i < withData.Length; i++)
            {
                var r = withData[i];
                var series = Style(new LineSeries { Title = $"{r.Name}: {r.Slots:0.#} slot(s)" }, i, withData.Length, markers: true);
                for (int k = 0; k < r.SlotWaitsMs.Length; k++)
                    if (r.SlotWaitsMs[k] is double w)
                        series.Points.Add(new DataPoint(k + 1, w));
                model.Series.Add(series);
            }
            return model;
        }

        /// <summary>Capacity: how many of the N connections had their echo, against time since the probe started (last round).</summary>
        private static PlotModel Capacity(IReadOnlyList<EchoServerMeasurement> results)
        {
            var withData = results.Where(r => r.PerRound.Any(p => p.CapacityEchoed != null)).ToArray();
            if (withData.Length == 0)
                return null;
            var first = withData[0];
            var model = NewModel("Capacity: connections echoed over time",
                $"{first.CapacityRequested} connections opened at once, one message each, kept open for {first.CapacityWaitMs / 1000:0.###} s (last round)");
            model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = "time since the probe started (ms)", Minimum = 0, Maximum = first.CapacityWaitMs, MajorGridlineStyle = LineStyle.Dot });
            // A log axis: a blocking server's 1 echo of N sits as high above the axis as N's decades allow, not on it.
            model.Axes.Add(new LogarithmicAxis { Position = AxisPosition.Left, Title = "connections echoed (log)", Minimum = 0.8, Maximum = first.CapacityRequested * 1.3, MajorGridlineStyle = LineStyle.Dot, MinorGridlineStyle = LineStyle.None });
            for (int k = 0; k < withData.Length; k++)
            {
                var r = withData[k];
                var last = r.PerRound.Last(p => p.CapacityEchoed != null);
                var times = last.CapacityEchoTimesMs ?? new double[0];
                // One polyline of steps (a StairStepSeries draws every segment as an element of its own): evenly by
                // rank, at most MaxTimelinePoints steps, the count at each kept time exact.
                var series = Style(new LineSeries { Title = $"{r.Name}: {last.CapacityEchoed} of {r.CapacityRequested}" }, k, withData.Length, markers: false);
                int step = Math.Max(1, (times.Length + MaxTimelinePoints - 1) / MaxTimelinePoints);
                var kept = new List<int>();
                for (int i = 0; i < times.Length; i += step)
                    kept.Add(i);
                if (kept.Count > 0 && kept[kept.Count - 1] != times.Length - 1)
                    kept.Add(times.Length - 1);
                int count = 0;
                foreach (int i in kept)
                {
                    if (count > 0)
                        series.Points.Add(new DataPoint(times[i], count));
                    count = i + 1;
                    series.Points.Add(new DataPoint(times[i], count));
                }
                if (times.Length > 0)
                    series.Points.Add(new DataPoint(r.CapacityWaitMs, times.Length));
                model.Series.Add(series);
            }
            return model;
        }

        /// <summary>Whiskers from each server's lowest to highest round (its FigureSpread), over horizontal bars at category k.</summary>
        private static void AddErrorBars(PlotModel model, IReadOnlyList<EchoServerMeasurement> results, string figure)
        {
            for (int k = 0; k < results.Count; k++)
            {
                var spread = results[k].Spread?.FirstOrDefault(s => s.Figure == figure);
                if (spread?.Min == null || spread.Max == null || spread.Rounds < 2)
                    continue;
                double low = spread.CiLow ?? spread.Min.Value, high = spread.CiHigh ?? spread.Max.Value;
                var whisker = new LineSeries { Color = OxyColors.Black, StrokeThickness = 1.5, RenderInLegend = false };
                // A category axis puts bar k at k; the caps are a fifth of a bar high.
                foreach (var (x, y) in new[] { (spread.Min.Value, k - 0.1), (spread.Min.Value, k + 0.1), (spread.Min.Value, (double)k), (spread.Max.Value, (double)k), (spread.Max.Value, k - 0.1), (spread.Max.Value, k + 0.1) })
                    whisker.Points.Add(new DataPoint(x, y));
                model.Series.Add(whisker);
                if (spread.CiLow != null)
                {
                    var ci = new LineSeries { Color = OxyColors.Black, StrokeThickness = 4, RenderInLegend = false };
                    ci.Points.Add(new DataPoint(low, k));
                    ci.Points.Add(new DataPoint(high, k));
                    model.Series.Add(ci);
                }
            }
        }

        /// <summary>
        /// Load: round trips/s (upper panel) and p99 (lower panel) against clients at once, log axes, one line per
        /// server in the same style in both panels; whiskers on round trips/s are the rounds' min–max.
        /// </summary>
        private static PlotModel Load(IReadOnlyList<EchoServerMeasurement> results)
        {
            var withData = results.Where(r => r.Load != null && r.Load.Length > 0).ToArray();
            if (withData.Length == 0)
                return null;
            var model = NewModel("Load: many clients at once",
                $"{withData[0].MessageSize}-byte messages, each client waits for its verified echo; median over rounds, whiskers: min–max");
            model.Axes.Add(new LogarithmicAxis { Position = AxisPosition.Bottom, Title = "clients at once", MajorGridlineStyle = LineStyle.Dot, MinorGridlineStyle = LineStyle.None, MinimumPadding = 0.05, MaximumPadding = 0.05 });
            model.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Key = "rate", Title = "round trips/s", StartPosition = 0.55, EndPosition = 1, Minimum = 0, MaximumPadding = 0.1, MajorGridlineStyle = LineStyle.Dot });
            model.Axes.Add(new LogarithmicAxis { Position = AxisPosition.Left, Key = "p99", Title = "p99 (ms, log)", StartPosition = 0, EndPosition = 0.45, MajorGridlineStyle = LineStyle.Dot, MinorGridlineStyle = LineStyle.None });
            for (int i = 0; i < withData.Length; i++)
            {
                var r = withData[i];
                var rate = Style(new LineSeries { Title = r.Name, YAxisKey = "rate" }, i, withData.Length, markers: true);
                var p99 = Style(new LineSeries { YAxisKey = "p99", RenderInLegend = false }, i, withData.Length, markers: true);
                foreach (var step in r.Load.OrderBy(s => s.Clients))
                {
                    rate.Points.Add(new DataPoint(step.Clients, step.RoundTripsPerSec));
                    if (step.P99Ms is double ms && ms > 0)
                        p99.Points.Add(new DataPoint(step.Clients, ms));
                    if (step.RoundTripsPerSecMin is double low && step.RoundTripsPerSecMax is double high && high > low)
                    {
                        var whisker = new LineSeries { Color = rate.Color, StrokeThickness = 1, YAxisKey = "rate", RenderInLegend = false };
                        whisker.Points.Add(new DataPoint(step.Clients, low));
                        whisker.Points.Add(new DataPoint(step.Clients, high));
                        model.Series.Add(whisker);
                    }
                }
                model.Series.Add(rate);
                model.Series.Add(p99);
            }
            return model;
        }

        /// <summary>The figures whose server cost the chart shows, in panel order, with the axis title of each.</summary>
        private static readonly (string Figure, string Axis)[] CostPanels =
        {
            ("RoundTrip", "µs per round trip"), ("Connections", "µs per connection"), ("Load", "µs per round trip, load"), ("Stream", "µs per MiB streamed"),
        };

        /// <summary>
        /// Server cost: each observed server's CPU time (every thread and child) per operation, one panel per figure
        /// side by side, one row per server in its colour (the same as in the other charts) with its marker at the
        /// value; whiskers: the rounds' min–max, a thick black line the 95 % interval (5 or more rounds).
        /// </summary>
        private static PlotModel ServerCostChart(IReadOnlyList<EchoServerMeasurement> results)
        {
            double? cost(EchoServerMeasurement r, string figure) => r.ServerCost?.FirstOrDefault(c => c.Figure == figure)?.CpuUsPerOp;
            var servers = results.Select((r, i) => (Result: r, Colour: i)).Where(x => CostPanels.Any(p => cost(x.Result, p.Figure) != null)).ToArray();
            var panels = CostPanels.Where(p => servers.Any(x => cost(x.Result, p.Figure) != null)).ToArray();
            if (servers.Length == 0)
                return null;
            var model = NewModel("Server cost: CPU per operation",
                "every thread and child; median over rounds; whiskers: min–max, thick: 95 % CI; lower is cheaper");
            int n = servers.Length;
            // Server k's row at y = n - 1 - k (the first on top), named on the left axis.
            model.Axes.Add(new LinearAxis
            {
                Position = AxisPosition.Left, Minimum = -0.6, Maximum = n - 0.4, MajorStep = 1, MinorStep = 1, IsZoomEnabled = false,
                LabelFormatter = y => Math.Abs(y - Math.Round(y)) < 1e-9 && y >= 0 && y < n ? servers[n - 1 - (int)Math.Round(y)].Result.Name : string.Empty,
            });
            double gap = 0.04, width = (1 - gap * (panels.Length - 1)) / panels.Length;
            for (int p = 0; p < panels.Length; p++)
            {
                string key = "cost" + p;
                // A log axis where one server costs 20 times another (socat's fork per connection beside C's 40 µs):
                // on a linear one the cheap servers' bars would be a few pixels long. Bars then start at the axis minimum.
                var values = servers.Select(x => cost(x.Result, panels[p].Figure)).Where(v => v is double d && d > 0).Select(v => v.Value).ToArray();
                bool log = values.Length > 1 && values.Max() / values.Min() > 20;
                double floor = log ? Math.Pow(10, Math.Floor(Math.Log10(values.Min() / 2))) : 0;
                Axis axis = log
                    ? new LogarithmicAxis { Minimum = floor, Title = panels[p].Axis + " (log)", MinorGridlineStyle = LineStyle.None }
                    : (Axis)new LinearAxis { Minimum = 0, Title = panels[p].Axis };
                axis.Position = AxisPosition.Bottom;
                axis.Key = key;
                axis.StartPosition = p * (width + gap);
                axis.EndPosition = p * (width + gap) + width;
                axis.MaximumPadding = 0.15;
                axis.MajorGridlineStyle = LineStyle.Dot;
                model.Axes.Add(axis);
                for (int k = 0; k < n; k++)
                {
                    var r = servers[k].Result;
                    if (!(cost(r, panels[p].Figure) is double value))
                        continue;
                    double y = n - 1 - k;
                    var colour = Palette[servers[k].Colour % Palette.Length];
                    // A bar drawn as a thick line from 0 to the value (one legend entry per server), its marker at the value.
                    var bar = new LineSeries
                    {
                        Title = p == panels.Length - 1 || panels.Skip(p + 1).All(q => cost(r, q.Figure) == null) ? r.Name : null,
                        XAxisKey = key, Color = colour, StrokeThickness = 12,
                    };
                    bar.RenderInLegend = bar.Title != null;
                    bar.Points.Add(new DataPoint(floor, y));
                    bar.Points.Add(new DataPoint(value, y));
                    model.Series.Add(bar);
                    var end = new LineSeries
                    {
                        XAxisKey = key, Color = colour, RenderInLegend = false, MarkerType = Markers[servers[k].Colour % Markers.Length], MarkerSize = 7,
                        MarkerFill = OxyColors.White, MarkerStroke = colour, MarkerStrokeThickness = 2,
                    };
                    end.Points.Add(new DataPoint(value, y));
                    model.Series.Add(end);
                    var spread = r.Spread?.FirstOrDefault(s => s.Figure == $"Server{panels[p].Figure}CpuUsPerOp");
                    if (spread?.Min == null || spread.Max == null || spread.Rounds < 2)
                        continue;
                    var whisker = new LineSeries { Color = OxyColors.Black, StrokeThickness = 1.5, XAxisKey = key, RenderInLegend = false };
                    double low = Math.Max(floor, spread.Min.Value);
                    foreach (var (x, dy) in new[] { (low, -0.2), (low, 0.2), (low, 0.0), (spread.Max.Value, 0.0), (spread.Max.Value, -0.2), (spread.Max.Value, 0.2) })
                        whisker.Points.Add(new DataPoint(x, y + dy));
                    model.Series.Add(whisker);
                    if (spread.CiLow != null)
                    {
                        var ci = new LineSeries { Color = OxyColors.Black, StrokeThickness = 4, XAxisKey = key, RenderInLegend = false };
                        ci.Points.Add(new DataPoint(Math.Max(floor, spread.CiLow.Value), y));
                        ci.Points.Add(new DataPoint(spread.CiHigh.Value, y));
                        model.Series.Add(ci);
                    }
                }
            }
            model.PlotMargins = new OxyThickness(Math.Min(300, 20 + 9 * servers.Max(x => x.Result.Name.Length)), double.NaN, double.NaN, double.NaN);
            return model;
        }

        /// <summary>Stream throughput per server, bars with the value written at the end.</summary>
        private static PlotModel Throughput(IReadOnlyList<EchoServerMeasurement> results)
        {
            if (!results.Any(r => r.StreamMiBps != null))
                return null;
            var model = NewModel("Stream: full-duplex echo, every byte verified", "median over rounds; higher is faster");
            var names = results.Select(r => r.Name).ToArray();
            model.Axes.Add(new CategoryAxis { Position = AxisPosition.Left, ItemsSource = names, IsZoomEnabled = false });
            model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = "MiB/s", Minimum = 0, MaximumPadding = 0.15, MajorGridlineStyle = LineStyle.Dot });
            var bars = new BarSeries { LabelFormatString = "{0:0.0} MiB/s", LabelPlacement = LabelPlacement.Base, FillColor = Palette[5] };
            foreach (var r in results)
                bars.Items.Add(new BarItem(r.StreamMiBps ?? 0));
            model.Series.Add(bars);
            AddErrorBars(model, results, "StreamMiBps");
            model.Subtitle = "median over rounds, whiskers: the rounds' min–max; higher is faster";
            model.Legends.Clear();
            model.PlotMargins = new OxyThickness(Math.Min(300, 20 + 9 * names.Max(n => n.Length)), double.NaN, double.NaN, double.NaN);
            return model;
        }
    }

    /// <summary>
    /// Measures chart text as DejaVu Sans draws it. OxyPlot's SVG export otherwise measures with the PDF fonts'
    /// metrics in points, about two thirds of what a Linux viewer draws in DejaVu Sans at the same pixel size, and it
    /// sizes legends, margins and axis titles by that: legend entries were cut off and axis titles ran into the tick
    /// labels. The advance widths below are DejaVu Sans's and DejaVu Sans Bold's for printable ASCII (2048 units to
    /// the em, read from the fonts' hmtx tables); other characters count as a digit. Verdana, the usual fallback
    /// elsewhere, is about as wide; a narrower fallback only gets a little more room.
    /// </summary>
    internal sealed class DejaVuTextMeasurer : PdfRenderContext
    {
        private const double UnitsPerEm = 2048;
        private const double LineHeightEm = (1901 + 483) / UnitsPerEm; // ascent + descent
        private const double Margin = 1.03; // hinting and rounding in the viewer

        private static readonly short[] Regular =
        {
            651, 821, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716, 651, 739, 651, 690, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303,
            1303, 1303, 690, 690, 1716, 1716, 1716, 1087, 2048, 1401, 1405, 1430, 1577, 1294, 1178, 1587, 1540, 604, 604, 1343, 1141, 1767, 1532, 1612,
            1235, 1612, 1423, 1300, 1251, 1499, 1401, 2025, 1403, 1251, 1403, 799, 690, 799, 1716, 1024, 1024, 1255, 1300, 1126, 1300, 1260, 721, 1300,
            1298, 569, 569, 1186, 569, 1995, 1298, 1253, 1300, 1300, 842, 1067, 803, 1298, 1212, 1675, 1212, 1212, 1075, 1303, 690, 1303, 1716,
        };

        private static readonly short[] Bold =
        {
            713, 934, 1067, 1716, 1425, 2052, 1786, 627, 936, 936, 1071, 1716, 778, 850, 778, 748, 1425, 1425, 1425, 1425, 1425, 1425, 1425, 1425,
            1425, 1425, 819, 819, 1716, 1716, 1716, 1188, 2048, 1585, 1561, 1503, 1700, 1399, 1399, 1681, 1714, 762, 762, 1587, 1305, 2038, 1714, 1741,
            1501, 1741, 1577, 1475, 1397, 1663, 1585, 2259, 1579, 1483, 1485, 936, 748, 936, 1716, 1024, 1024, 1382, 1466, 1214, 1466, 1389, 891, 1466,
            1458, 702, 702, 1362, 702, 2134, 1458, 1407, 1466, 1466, 1010, 1219, 979, 1458, 1335, 1892, 1321, 1335, 1192, 1458, 748, 1458, 1716,
        };

        internal DejaVuTextMeasurer()
            : base(900, 500, OxyColors.White)
        {
        }

        public override OxySize MeasureText(string text, string fontFamily, double fontSize, double fontWeight)
        {
            if (string.IsNullOrEmpty(text))
                return OxySize.Empty;
            var widths = fontWeight >= FontWeights.Bold ? Bold : Regular;
            var lines = text.Replace("\r", string.Empty).Split('\n');
            double widest = lines.Max(line => line.Sum(c => c >= 32 && c <= 126 ? widths[c - 32] : widths['0' - 32]));
            return new OxySize(widest / UnitsPerEm * fontSize * Margin, lines.Length * LineHeightEm * fontSize);
        }
    }
}
