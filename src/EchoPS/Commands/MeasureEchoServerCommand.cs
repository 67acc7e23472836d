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

        /// <summary>Servers as host:port ("127.0.0.1:8080", "[::1]:8080", "localhost:7"), command lines with {port} to start ("./fork_server {port}"), or EchoPS; optionally labelled: "C=127.0.0.1:9000".</summary>
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
        [WholeNumber]
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
        [WholeNumber]
        [ValidateRange(1, 1000)]
        public int Rounds { get; set; }

        /// <summary>Round trip: timed messages per round (after one warm-up).</summary>
        [Parameter]
        [WholeNumber]
        [ValidateRange(1, Client.EchoClientOptions.MaxCount)]
        public int Count { get; set; }

        /// <summary>Bytes per message of the round trip, connections, slots and capacity figures.</summary>
        [Parameter]
        [WholeNumber]
        [ValidateRange(1, Client.EchoClientOptions.MaxSize)]
        public int Size { get; set; }

        /// <summary>Stream: seconds each stream runs (fractions allowed).</summary>
        [Parameter]
        [Seconds]
        [ValidateRange(0.01, 3600.0)]
        public double StreamSec { get; set; }

        /// <summary>Connections: how many sequential connections per round.</summary>
        [Parameter]
        [WholeNumber]
        [ValidateRange(1, 10_000_000)]
        public int ConnectionCount { get; set; }

        /// <summary>Slots: how many clients connect together (K).</summary>
        [Parameter]
        [WholeNumber]
        [ValidateRange(1, MeasureOptions.MaxSlotClients)]
        public int SlotClients { get; set; }

        /// <summary>Slots: milliseconds each client holds its connection after its echo (H).</summary>
        [Parameter]
        [WholeNumber]
        [ValidateRange(1, 600_000)]
        public int HoldMs { get; set; }

        /// <summary>Capacity: connections opened at once (N); lowered, with a note, where the open-file limit is lower.</summary>
        [Parameter]
        [WholeNumber]
        [ValidateRange(1, MeasureOptions.MaxCapacityConnections)]
        public int CapacityConnections { get; set; }

        /// <summary>Capacity: seconds to wait for the echoes (T), fractions allowed.</summary>
        [Parameter]
        [Seconds]
        [ValidateRange(0.01, 3600.0)]
        public double CapacityWaitSec { get; set; }

        /// <summary>Load: clients at once, one step each (default 1, 10, 100, 1000; -Quick: 1, 10, 100).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        [WholeNumber]
        [ValidateRange(1, MeasureOptions.MaxLoadClients)]
        public int[] Clients { get; set; }

        /// <summary>Load: seconds each step's timed part runs (fractions allowed).</summary>
        [Parameter]
        [Seconds]
        [ValidateRange(0.01, 3600.0)]
        public double LoadSec { get; set; }

        /// <summary>Connections opened to every server before the figures and held, silent, during them (0: none).</summary>
        [Parameter]
        [WholeNumber]
        [ValidateRange(0, MeasureOptions.MaxLoadClients)]
        public int IdleConnections { get; set; }

        /// <summary>Seconds allowed for each connect and every read (fractions allowed).</summary>
        [Parameter]
        [Seconds]
        [ValidateRange(0.01, 3600.0)]
        public double TimeoutSec { get; set; }

        /// <summary>
        /// Seconds each figure may take for one server in one round, from its first connect to its last close (fractions
        /// allowed); a figure that reaches it stops and reports TimedOut with what was done. Default: derived from the
        /// figure's size (-Verbose shows the bounds in force and the bound of the whole run).
        /// </summary>
        [Parameter]
        [Seconds]
        [ValidateRange(0.001, 2_000_000.0)]
        public double DeadlineSec { get; set; }

        /// <summary>A folder to write the report to: report.md, measurement.json and SVG charts. Created if missing.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; }

        /// <summary>CPUs the servers it starts are pinned to (a taskset list: "1", "0-1"). Default: the measurer's own CPUs when the measurer is pinned; otherwise not pinned.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string ServerCpu { get; set; }

        /// <summary>Seconds a server it starts may take to listen (fractions allowed); it is stopped, with its output in the error, when it does not. Default 120.</summary>
        [Parameter]
        [Seconds]
        [ValidateRange(0.1, 3600.0)]
        public double StartTimeoutSec { get; set; }

        /// <summary>The process of each host:port target to observe, in the order of the targets (0: find it from its port).</summary>
        [Parameter]
        [WholeNumber]
        [ValidateRange(0, int.MaxValue)]
        public int[] ProcessId { get; set; }

        /// <summary>An extra pass per local server under strace -f -c (syscalls per echo and per connection) and perf stat, never mixed into the timed figures.</summary>
        [Parameter]
        public SwitchParameter Trace { get; set; }

        /// <inheritdoc />
        protected override void BeginProcessing() => SessionTypeData.EnsureLoaded(this);

        /// <inheritdoc />
        protected override void ProcessRecord()
        {
            try
            {
                if (ParameterSetName == HostSet)
                    _targets.Add(CheckHost(new MeasureTarget(Name, HostName, Port)));
                else
                    foreach (var text in Target)
                        _targets.Add(CheckHost(ParseTarget(text)));
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
            string folder = Path == null ? null : ResolveFolder(Path);
            WriteVerbose($"Measuring {string.Join(", ", _targets)}: {options.Figures}, {options.Rounds} round(s), baseline {_targets[options.BaselineIndex].Name}.");
            WriteVerbose(EchoServerMeasurer.DescribeBounds(options, _targets.Count));
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

        /// <summary>
        /// -Path as a file-system path, checked before anything is measured: a path PowerShell cannot take (a null
        /// character, an unknown drive or provider) is refused with the id InvalidPath, never a raw .NET exception.
        /// </summary>
        private string ResolveFolder(string path)
        {
            string problem;
            try
            {
                if (path.IndexOf('\0') >= 0)
                    problem = "it contains a null character";
                else
                {
                    var folder = SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out var provider, out _);
                    if (provider.Name == "FileSystem")
                        return folder;
                    problem = $"it is a {provider.Name} path, not a folder in the file system";
                }
            }
            catch (Exception ex) when (ex is ArgumentException || ex is NotSupportedException || ex is IOException
                || ex is SessionStateException || ex is ProviderInvocationException)
            {
                problem = ex.Message;
            }
            ThrowTerminatingError(EchoErrors.InvalidArgument("InvalidPath",
                $"-Path '{Addressing.Shorten(path.Replace("\0", "\\0"))}' is not a folder to write the report to: {problem}. Give a file-system folder, such as ./results.", path));
            return null;
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
            if (IsBound(nameof(DeadlineSec))) o.FigureDeadline = TimeSpan.FromSeconds(DeadlineSec);
            if (IsBound(nameof(Clients))) o.LoadClients = Clients;
            if (IsBound(nameof(LoadSec))) o.LoadDuration = TimeSpan.FromSeconds(LoadSec);
            if (IsBound(nameof(IdleConnections))) o.IdleConnections = IdleConnections;
            o.BaselineIndex = BaselineIndex();
            ServerOptions(o);
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

        /// <summary>The host of a target under the client's rules (Addressing): a canonical literal, or a name a resolver takes.</summary>
        private static MeasureTarget CheckHost(MeasureTarget target)
        {
            if (target.Command != null)
                return target; // a command target listens on a loopback port the measurer picks
            var problem = Addressing.ParseTarget(target.Host, out _, out _, out var port);
            if (problem == null && port != null)
                problem = $"'{target.Host}' names a port: give the port once, as host:port in -Target or with -Port.";
            if (problem != null)
                throw new ArgumentException(problem);
            return target;
        }

        /// <summary>"host:port", "[v6]:port", a command line with {port}, "EchoPS"; each optionally "label=...".</summary>
        internal MeasureTarget ParseTarget(string text)
        {
            string value = text?.Trim() ?? string.Empty;
            string label = null;
            int equals = value.IndexOf('=');
            // A label is what comes before the first '=', unless that is part of a command ("./server --port={port}").
            if (equals >= 0 && value.Substring(0, equals).IndexOfAny(new[] { '{', '/', '\'', '"' }) < 0 && !value.Substring(0, equals).Contains(" -"))
            {
                label = value.Substring(0, equals);
                value = value.Substring(equals + 1).Trim();
            }
            if (value.Contains("{port}"))
                return MeasureTarget.ForCommand(label, value);
            if (string.Equals(value, BuiltInServer, StringComparison.OrdinalIgnoreCase))
                return MeasureTarget.ForCommand(label ?? BuiltInServer, EchoPSCommand());
            int colon = value.LastIndexOf(':');
            string host = colon > 0 ? value.Substring(0, colon) : string.Empty;
            if (host.StartsWith("[", StringComparison.Ordinal) && host.EndsWith("]", StringComparison.Ordinal))
                host = host.Substring(1, host.Length - 2);
            else if (host.Contains(":"))
                host = string.Empty; // an IPv6 literal needs brackets to carry a port
            if (host.Length == 0 || !int.TryParse(value.Substring(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port)
                || port < 1 || port > 65535)
                throw new ArgumentException(
                    $"Target '{text}' is not host:port, a command with {{port}} or EchoPS: use e.g. 127.0.0.1:8080, [::1]:8080, localhost:7, 'fork=./fork_server {{port}}' or EchoPS, optionally labelled as name=...; the port is 1 to 65535.");
            return new MeasureTarget(label, host, port);
        }

        private bool IsBound(string parameter) => MyInvocation.BoundParameters.ContainsKey(parameter);

        /// <summary>The target name that starts EchoPS's own server (a fresh pwsh with this module).</summary>
        internal const string BuiltInServer = "EchoPS";

        /// <summary>The command line of EchoPS's server in a pwsh of its own: the real pwsh (not the dotnet launcher), this module.</summary>
        private string EchoPSCommand()
        {
            string home = SessionState.PSVariable.GetValue("PSHOME") as string ?? string.Empty;
            string pwsh = System.IO.Path.Combine(home, "pwsh");
            if (!File.Exists(pwsh))
                pwsh = System.Diagnostics.Process.GetCurrentProcess().MainModule?.FileName ?? "pwsh";
            string manifest = System.IO.Path.Combine(MyInvocation.MyCommand.Module?.ModuleBase ?? System.IO.Path.GetDirectoryName(typeof(MeasureEchoServerCommand).Assembly.Location), "EchoPS.psd1");
            return $"'{pwsh}' -NoProfile -NonInteractive -Command \"Import-Module '{manifest}'; Start-BlockingEchoServer -Port {{port}}\"";
        }

        /// <summary>The server-side options: pinning, start timeout, process ids, tracing, where output goes.</summary>
        private void ServerOptions(MeasureOptions o)
        {
            var twice = _targets.GroupBy(t => t.Name, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
            if (twice != null)
                ThrowTerminatingError(EchoErrors.InvalidArgument("DuplicateTargetName",
                    $"Two targets are named '{twice.Key}': give each its own label, as label=host:port or 'label=command {{port}}'.", twice.Key));
            if (IsBound(nameof(StartTimeoutSec)))
                o.StartTimeout = TimeSpan.FromSeconds(StartTimeoutSec);
            o.Trace = Trace;
            o.TraceCount = Math.Max(2, Math.Min(o.ConnectionCount, o.RoundTripCount));
            o.WorkingDirectory = SessionState.Path.CurrentFileSystemLocation.ProviderPath;
            if (Path != null)
                o.ServerOutputFolder = System.IO.Path.Combine(ResolveFolder(Path), "servers");
            if (ServerCpu != null)
            {
                if (ProcFs.ParseCpuList(ServerCpu) == null)
                    ThrowTerminatingError(EchoErrors.InvalidArgument("InvalidServerCpu",
                        $"-ServerCpu '{ServerCpu}' is not a CPU list: use CPU numbers and ranges as taskset -c takes them, e.g. 1 or 0-1 or 0,2.", ServerCpu));
                o.ServerCpus = ServerCpu;
            }
            else
            {
                var mine = ProcFs.Affinity();
                int? machine = ProcFs.MachineCpus();
                if (mine != null && machine != null && mine.Count < machine)
                    o.ServerCpus = ProcFs.FormatCpuList(mine);
            }
            if (ProcessId != null)
            {
                if (ProcessId.Length != _targets.Count)
                    ThrowTerminatingError(EchoErrors.InvalidArgument("ProcessIdCount",
                        $"-ProcessId has {ProcessId.Length} value(s) for {_targets.Count} target(s): give one per target, in order (0: find it from its port).", ProcessId));
                for (int i = 0; i < ProcessId.Length; i++)
                    _targets[i].ProcessId = ProcessId[i];
            }
        }
    }
}
