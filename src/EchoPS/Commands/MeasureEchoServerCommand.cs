using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using EchoPS.Errors;
using EchoPS.Measure;

namespace EchoPS.Commands
{
    /// <summary>
    /// <para type="synopsis">Runs the lab's standard measurement against echo servers: round trip, stream, connections, slots, capacity, load.</para>
    /// </summary>
    [Cmdlet(VerbsDiagnostic.Measure, "EchoServer", DefaultParameterSetName = TargetSet)]
    [OutputType(typeof(EchoServerMeasurement))]
    public sealed class MeasureEchoServerCommand : PSCmdlet
    {
        private const string TargetSet = "Target";
        private const string HostSet = "HostName";
        private const int ProgressId = 0x4544;

        private readonly List<MeasureTarget> _targets = new List<MeasureTarget>();
        private readonly object _gate = new object();
        private EchoServerMeasurer _measurer;
        private bool _stopping;

        /// <summary>Servers as host:port ("127.0.0.1:8080", "[::1]:8080", "localhost:7"), optionally labelled: "C=127.0.0.1:9000".</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = TargetSet)]
        [ValidateNotNullOrEmpty]
        public string[] Target { get; set; }

        /// <summary>A server's host name or address, piped by property name from Get-BlockingEchoServer, a server job or a Test-EchoRoundTrip result.</summary>
        [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = HostSet)]
        [Alias("Host", "ComputerName", "Address", "TargetName")]
        [ValidateNotNullOrEmpty]
        public string HostName { get; set; }

        /// <summary>The server's TCP port (with -HostName).</summary>
        [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = HostSet)]
        [ValidateRange(1, 65535)]
        public int Port { get; set; }

        /// <summary>The server's label in the table, the report and the charts (with -HostName); host:port by default.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true, ParameterSetName = HostSet)]
        [Alias("Label")]
        public string Name { get; set; }

        /// <summary>The server the others are compared with: its label, its host:port, or its position from 1. Default: the first.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Baseline { get; set; }

        /// <summary>Which figures to measure: RoundTrip, Stream, Connections, Slots, Capacity, or All (the default).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public MeasureFigure[] Figure { get; set; }

        /// <summary>A smoke check in seconds: one round of small sizes. Any size given explicitly still applies.</summary>
        [Parameter]
        public SwitchParameter Quick { get; set; }

        /// <summary>Rounds: every server is measured once per figure per round, in alternation; figures are medians over rounds.</summary>
        [Parameter]
        [ValidateRange(1, 1000)]
        public int Rounds { get; set; }

        /// <summary>Round trip: timed messages per round (after one warm-up).</summary>
        [Parameter]
        [ValidateRange(1, Client.EchoClientOptions.MaxCount)]
        public int Count { get; set; }

        /// <summary>Bytes per message of the round trip, connections, slots and capacity figures.</summary>
        [Parameter]
        [ValidateRange(1, Client.EchoClientOptions.MaxSize)]
        public int Size { get; set; }

        /// <summary>Stream: seconds each stream runs (fractions allowed).</summary>
        [Parameter]
        [ValidateRange(0.01, 3600.0)]
        public double StreamSec { get; set; }

        /// <summary>Connections: how many sequential connections per round.</summary>
        [Parameter]
        [ValidateRange(1, 10_000_000)]
        public int ConnectionCount { get; set; }

        /// <summary>Slots: how many clients connect together (K).</summary>
        [Parameter]
        [ValidateRange(1, MeasureOptions.MaxSlotClients)]
        public int SlotClients { get; set; }

        /// <summary>Slots: milliseconds each client holds its connection after its echo (H).</summary>
        [Parameter]
        [ValidateRange(1, 600_000)]
        public int HoldMs { get; set; }

        /// <summary>Capacity: connections opened at once (N); lowered, with a note, where the open-file limit is lower.</summary>
        [Parameter]
        [ValidateRange(1, MeasureOptions.MaxCapacityConnections)]
        public int CapacityConnections { get; set; }

        /// <summary>Capacity: seconds to wait for the echoes (T), fractions allowed.</summary>
        [Parameter]
        [ValidateRange(0.01, 3600.0)]
        public double CapacityWaitSec { get; set; }

        /// <summary>Load: clients at once, one step each (default 1, 10, 100, 1000; -Quick: 1, 10, 100).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        [ValidateRange(1, MeasureOptions.MaxLoadClients)]
        public int[] Clients { get; set; }

        /// <summary>Load: seconds each step's timed part runs (fractions allowed).</summary>
        [Parameter]
        [ValidateRange(0.01, 3600.0)]
        public double LoadSec { get; set; }

        /// <summary>Connections opened to every server before the figures and held, silent, during them (0: none).</summary>
        [Parameter]
        [ValidateRange(0, MeasureOptions.MaxLoadClients)]
        public int IdleConnections { get; set; }

        /// <summary>Seconds allowed for each connect and every read (fractions allowed).</summary>
        [Parameter]
        [ValidateRange(0.01, 3600.0)]
        public double TimeoutSec { get; set; }

        /// <summary>A folder to write the report to: report.md, measurement.json and SVG charts. Created if missing.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; }

        /// <inheritdoc />
        protected override void ProcessRecord()
        {
            try
            {
                if (ParameterSetName == HostSet)
                    _targets.Add(new MeasureTarget(Name, HostName, Port));
                else
                    foreach (var text in Target)
                        _targets.Add(ParseTarget(text));
            }
            catch (ArgumentException ex)
            {
                ThrowTerminatingError(EchoErrors.InvalidArgument("InvalidTarget", ex.Message, ParameterSetName == HostSet ? (object)HostName : Target));
            }
        }

        /// <inheritdoc />
        protected override void EndProcessing()
        {
            var options = CreateOptions();
            var measurer = new EchoServerMeasurer(options);
            lock (_gate)
            {
                if (_stopping)
                    return;
                _measurer = measurer;
            }
            string folder = Path == null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
            WriteVerbose($"Measuring {string.Join(", ", _targets)}: {options.Figures}, {options.Rounds} round(s), baseline {_targets[options.BaselineIndex].Name}.");
            EchoServerMeasurement[] results;
            bool showedProgress = false;
            try
            {
                // Progress is reported between measurements, never inside one: the callback runs on this thread.
                results = measurer.Run(_targets, p =>
                {
                    showedProgress = true;
                    WriteProgress(new ProgressRecord(ProgressId, "Measure-EchoServer: " + p.Activity, p.Status) { PercentComplete = p.PercentComplete });
                });
            }
            catch (OperationCanceledException)
            {
                return; // Ctrl+C: every socket is closed; nothing left to report
            }
            catch (ArgumentException ex)
            {
                ThrowTerminatingError(EchoErrors.InvalidArgument("InvalidMeasureOption", ex.Message, null));
                return;
            }
            finally
            {
                lock (_gate)
                    _measurer = null;
                measurer.Dispose();
                if (showedProgress)
                    WriteProgress(new ProgressRecord(ProgressId, "Measure-EchoServer", "Done") { RecordType = ProgressRecordType.Completed });
            }

            foreach (var note in measurer.Setup.Notes)
                WriteVerbose(note);
            if (measurer.Setup.CapacityLimited)
                WriteWarning(measurer.Setup.Notes.Last(n => n.StartsWith("Capacity:", StringComparison.Ordinal)));
            foreach (var result in results)
            {
                WriteObject(result);
                if (!result.Success)
                    WriteError(EchoErrors.MeasureFailed(result));
            }
            if (folder != null)
            {
                try
                {
                    foreach (var file in MeasureReport.Write(folder, measurer.Setup, results))
                        WriteVerbose($"Wrote {file}");
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    WriteError(new ErrorRecord(ex, "MeasureReportNotWritten", ErrorCategory.WriteError, folder));
                }
            }
        }

        /// <inheritdoc />
        protected override void StopProcessing()
        {
            lock (_gate)
            {
                _stopping = true;
                _measurer?.Cancel();
            }
        }

        private MeasureOptions CreateOptions()
        {
            var o = Quick ? MeasureOptions.Quick() : new MeasureOptions();
            if (Figure != null)
                o.Figures = Figure.Aggregate(MeasureFigure.None, (all, f) => all | f);
            if (IsBound(nameof(Rounds))) o.Rounds = Rounds;
            if (IsBound(nameof(Count))) o.RoundTripCount = Count;
            if (IsBound(nameof(Size))) o.MessageSize = Size;
            if (IsBound(nameof(StreamSec))) o.StreamDuration = TimeSpan.FromSeconds(StreamSec);
            if (IsBound(nameof(ConnectionCount))) o.ConnectionCount = ConnectionCount;
            if (IsBound(nameof(SlotClients))) o.SlotClients = SlotClients;
            if (IsBound(nameof(HoldMs))) o.SlotHold = TimeSpan.FromMilliseconds(HoldMs);
            if (IsBound(nameof(CapacityConnections))) o.CapacityConnections = CapacityConnections;
            if (IsBound(nameof(CapacityWaitSec))) o.CapacityWait = TimeSpan.FromSeconds(CapacityWaitSec);
            if (IsBound(nameof(TimeoutSec))) o.Timeout = TimeSpan.FromSeconds(TimeoutSec);
            if (IsBound(nameof(Clients))) o.LoadClients = Clients;
            if (IsBound(nameof(LoadSec))) o.LoadDuration = TimeSpan.FromSeconds(LoadSec);
            if (IsBound(nameof(IdleConnections))) o.IdleConnections = IdleConnections;
            o.BaselineIndex = BaselineIndex();
            return o;
        }

        private int BaselineIndex()
        {
            if (Baseline == null)
                return 0;
            int index = _targets.FindIndex(t => string.Equals(t.Name, Baseline, StringComparison.OrdinalIgnoreCase)
                || string.Equals(t.Endpoint, Baseline, StringComparison.OrdinalIgnoreCase));
            if (index < 0 && int.TryParse(Baseline, NumberStyles.None, CultureInfo.InvariantCulture, out int position)
                && position >= 1 && position <= _targets.Count)
                index = position - 1;
            if (index < 0)
                ThrowTerminatingError(EchoErrors.InvalidArgument("BaselineNotFound",
                    $"-Baseline '{Baseline}' names none of the servers: use a label, a host:port or a position from 1 to {_targets.Count} ({string.Join(", ", _targets.Select(t => t.Name))}).",
                    Baseline));
            return index;
        }

        /// <summary>"host:port", "[v6]:port" or "label=host:port".</summary>
        internal static MeasureTarget ParseTarget(string text)
        {
            string value = text?.Trim() ?? string.Empty;
            string label = null;
            int equals = value.IndexOf('=');
            if (equals >= 0)
            {
                label = value.Substring(0, equals);
                value = value.Substring(equals + 1).Trim();
            }
            int colon = value.LastIndexOf(':');
            string host = colon > 0 ? value.Substring(0, colon) : string.Empty;
            if (host.StartsWith("[", StringComparison.Ordinal) && host.EndsWith("]", StringComparison.Ordinal))
                host = host.Substring(1, host.Length - 2);
            else if (host.Contains(":"))
                host = string.Empty; // an IPv6 literal needs brackets to carry a port
            if (host.Length == 0 || !int.TryParse(value.Substring(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port)
                || port < 1 || port > 65535)
                throw new ArgumentException(
                    $"Target '{text}' is not host:port: use e.g. 127.0.0.1:8080, [::1]:8080 or localhost:7, optionally labelled as name=host:port; the port is 1 to 65535.");
            return new MeasureTarget(label, host, port);
        }

        private bool IsBound(string parameter) => MyInvocation.BoundParameters.ContainsKey(parameter);
    }
}
