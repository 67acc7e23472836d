using System;
using System.Linq;
using System.Collections.Generic;
using System.Management.Automation;
using System.Net;
using EchoPS.Errors;
using EchoPS.Hosting;
using EchoPS.Jobs;
using EchoPS.LockDown;
using EchoPS.Logging;
using EchoPS.Server;

namespace EchoPS.Commands
{
    /// <summary>
    /// <para type="synopsis">Starts a blocking, single-client TCP echo server.</para>
    /// </summary>
    [Cmdlet(VerbsLifecycle.Start, "BlockingEchoServer", SupportsShouldProcess = true, DefaultParameterSetName = ForegroundSet)]
    [OutputType(typeof(EchoServerEvent), ParameterSetName = new[] { ForegroundSet })]
    [OutputType(typeof(EchoServerJob), ParameterSetName = new[] { JobSet })]
    public sealed class StartBlockingEchoServerCommand : PSCmdlet
    {
        private const string ForegroundSet = "Foreground";
        private const string JobSet = "AsJob";
        private static readonly TimeSpan StopWait = TimeSpan.FromSeconds(5);
        // How often at most the foreground server warns that events were not shown, and how long Ctrl+C may spend
        // writing out what is still queued.
        private static readonly TimeSpan DropWarningInterval = TimeSpan.FromSeconds(10);
        private static readonly TimeSpan FlushOnStopLimit = TimeSpan.FromSeconds(1);
        // And how many rows it renders through the table view at most, so that rendering stays well under a second too.
        private const int FlushOnStopRows = 1000;

        private EchoServer _server;
        // Set by StopProcessing only: Ctrl+C or a runspace's Stop(). A downstream Select-Object -First or a downstream
        // error ends the pipeline without it, and such an end is quiet.
        private volatile bool _stopAsked;

        /// <summary>The TCP port to listen on; 0 picks a free port, reported in the Listening event.</summary>
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [WholeNumber]
        [ValidateRange(0, 65535)]
        public int Port { get; set; } = EchoServerOptions.DefaultPort;

        /// <summary>The IP address to bind: 127.0.0.1 by default, 0.0.0.0 for all IPv4 interfaces, :: for IPv4 and IPv6.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(Completion.ListenAddressCompleter))]
        public string Address { get; set; } = IPAddress.Loopback.ToString();

        /// <summary>How many clients the kernel queues while one is served.</summary>
        [Parameter]
        [WholeNumber]
        [ValidateRange(1, EchoServerOptions.MaxBacklog)]
        public int Backlog { get; set; } = EchoServerOptions.DefaultBacklog;

        /// <summary>How many clients are served at once: each slot is a thread running the blocking loop with its own buffer (1, the default, is the single-client baseline).</summary>
        [Parameter]
        [WholeNumber]
        [ValidateRange(1, EchoServerOptions.MaxSlots)]
        public int Slots { get; set; } = EchoServerOptions.DefaultSlots;

        /// <summary>The size in bytes of the one buffer every read and write goes through.</summary>
        [Parameter]
        [WholeNumber]
        [ValidateRange(EchoServerOptions.MinBufferSize, EchoServerOptions.MaxBufferSize)]
        public int BufferSize { get; set; } = EchoServerOptions.DefaultBufferSize;

        /// <summary>Sets TCP_NODELAY on accepted sockets (on by default; -NoDelay:$false turns it off).</summary>
        [Parameter]
        public SwitchParameter NoDelay { get; set; } = true;

        /// <summary>Addresses and CIDR ranges (IPv4 and IPv6) allowed to connect; others are rejected before any echo.</summary>
        [Parameter]
        [ValidateNotNull]
        public string[] AllowList { get; set; }

        /// <summary>
        /// A file that gets every event as one line of JSON (JSON Lines), flushed per event, never payload; it is
        /// appended to, and moved to "<c>path</c>.1" when it reaches -LogMaxBytes.
        /// </summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string LogPath { get; set; }

        /// <summary>The size in bytes at which -LogPath's file is moved to "<c>path</c>.1" and started again (default 10 MiB).</summary>
        [Parameter]
        [WholeNumber]
        [ValidateRange(EventLogFile.MinMaxBytes, long.MaxValue)]
        public long LogMaxBytes { get; set; } = EventLogFile.DefaultMaxBytes;

        /// <summary>Seconds a client may send nothing before it is cut off (default 60; 0 = never).</summary>
        [Parameter]
        [Seconds]
        [ValidateSeconds(EchoServerOptions.MaxTimeoutSeconds)]
        public double IdleTimeoutSec { get; set; } = EchoServerOptions.DefaultIdleTimeout.TotalSeconds;

        /// <summary>Seconds one write of the echo may block on a client that does not read (default 10; 0 = forever).</summary>
        [Parameter]
        [Seconds]
        [ValidateSeconds(EchoServerOptions.MaxTimeoutSeconds)]
        public double SendTimeoutSec { get; set; } = EchoServerOptions.DefaultSendTimeout.TotalSeconds;

        /// <summary>Bytes one connection may send; it is cut off once they are echoed (default 0 = unlimited).</summary>
        [Parameter]
        [WholeNumber]
        [ValidateRange(0, long.MaxValue)]
        public long MaxBytesPerConnection { get; set; }

        /// <summary>Seconds one connection may last (default 0 = unlimited).</summary>
        [Parameter]
        [Seconds]
        [ValidateSeconds(EchoServerOptions.MaxTimeoutSeconds)]
        public double MaxSessionSec { get; set; }

        /// <summary>Seconds one client may keep the only slot while others wait in the backlog (default 60; 0 = no limit).</summary>
        [Parameter]
        [Seconds]
        [ValidateSeconds(EchoServerOptions.MaxTimeoutSeconds)]
        public double MaxSlotHoldSec { get; set; } = EchoServerOptions.DefaultMaxSlotHold.TotalSeconds;

        /// <summary>Connections admitted per source address in any minute; more are rejected (default 0 = unlimited).</summary>
        [Parameter]
        [WholeNumber]
        [ValidateRange(0, int.MaxValue)]
        public int MaxConnectionsPerMinute { get; set; }

        /// <summary>Connections admitted from all sources together in any minute (default 0 = unlimited).</summary>
        [Parameter]
        [WholeNumber]
        [ValidateRange(0, int.MaxValue)]
        public int MaxTotalConnectionsPerMinute { get; set; }

        /// <summary>IPv6 clients whose addresses share this many leading bits count as one source for -MaxConnectionsPerMinute (default 64).</summary>
        [Parameter]
        [WholeNumber]
        [ValidateRange(0, 128)]
        public int RateLimitIPv6PrefixLength { get; set; } = EchoServerOptions.DefaultRateLimitIPv6PrefixLength;

        /// <summary>Echo rate of one connection in bytes per second (default 0 = unlimited).</summary>
        [Parameter]
        [WholeNumber]
        [ValidateRange(0, long.MaxValue)]
        public long MaxBytesPerSecond { get; set; }

        /// <summary>
        /// Client events (Connected, Disconnected, Rejected) per second shown one by one; above it they are folded into
        /// one Summary event per second (default 100; 0 = every event).
        /// </summary>
        [Parameter]
        [WholeNumber]
        [ValidateRange(0, EchoServerOptions.MaxEventRateLimit)]
        public int EventRateLimit { get; set; } = EchoServerOptions.DefaultEventRateLimit;

        /// <summary>Runs the server in the background and returns a job at once.</summary>
        [Parameter(Mandatory = true, ParameterSetName = JobSet)]
        public SwitchParameter AsJob { get; set; }

        /// <inheritdoc />
        protected override void BeginProcessing() => SessionTypeData.EnsureLoaded(this);

        /// <inheritdoc />
        protected override void ProcessRecord()
        {
            // A foreground server writing to a log file: plain text from its first line (ShouldProcess's verbose
            // line) to its last.
            using (AsJob ? null : PlainTextWhenRedirected())
                Run();
        }

        private void Run()
        {
            var addressProblem = ListenAddress.Parse(Address, out var address);
            if (addressProblem != null)
            {
                ThrowTerminatingError(EchoErrors.InvalidArgument("InvalidAddress", addressProblem, Address));
                return;
            }

            if (AllowList != null && AllowList.Length == 0)
            {
                ThrowTerminatingError(EchoErrors.InvalidArgument("InvalidAllowList",
                    "-AllowList is empty, which would allow nobody: list at least one address or range, or leave -AllowList out to allow any address.", AllowList));
                return;
            }

            var allowList = new List<AddressRange>();
            foreach (var entry in AllowList ?? Array.Empty<string>())
            {
                try
                {
                    allowList.Add(AddressRange.Parse(entry));
                }
                catch (FormatException ex)
                {
                    ThrowTerminatingError(EchoErrors.InvalidArgument("InvalidAllowList", $"-AllowList: {ex.Message}", entry));
                    return;
                }
            }

            var options = new EchoServerOptions
            {
                Address = address,
                Port = Port,
                Backlog = Backlog,
                Slots = Slots,
                BufferSize = BufferSize,
                NoDelay = NoDelay.IsPresent,
                AllowList = allowList,
                IdleTimeout = ValidateSecondsAttribute.ToTimeSpan(IdleTimeoutSec),
                SendTimeout = ValidateSecondsAttribute.ToTimeSpan(SendTimeoutSec),
                MaxBytesPerConnection = MaxBytesPerConnection,
                MaxSessionDuration = ValidateSecondsAttribute.ToTimeSpan(MaxSessionSec),
                MaxSlotHold = ValidateSecondsAttribute.ToTimeSpan(MaxSlotHoldSec),
                RateLimitIPv6PrefixLength = RateLimitIPv6PrefixLength,
                MaxConnectionsPerMinute = MaxConnectionsPerMinute,
                MaxTotalConnectionsPerMinute = MaxTotalConnectionsPerMinute,
                MaxBytesPerSecond = MaxBytesPerSecond,
                EventRateLimit = EventRateLimit,
            };
            var target = new IPEndPoint(address, Port).ToString();
            if (!ShouldProcess(target, "Start blocking echo server"))
                return;

            double? warmupMs = ServerWarmup.Run();
            if (warmupMs != null)
                WriteVerbose($"Server code compiled ahead of the first connection in {warmupMs.Value:0} ms (once per process).");
            if (AsJob)
            {
                WriteVerbose($"Binding {target}: {options.DescribeSettings("; ")}.");
                StartJob(options, OpenLog());
                return;
            }
            WriteVerbose($"Binding {target}: {options.DescribeSettings("; ")}.");
            RunInForeground(options, OpenLog());
        }

        /// <summary>The -LogPath file opened for appending, or null without -LogPath; a file that cannot be opened is a terminating error.</summary>
        private EventLogFile OpenLog()
        {
            if (LogPath == null)
                return null;
            string path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(LogPath);
            try
            {
                var log = new EventLogFile(path, LogMaxBytes);
                WriteVerbose($"Logging every event to {path} (JSON Lines, moved to {path}.1 at {LogMaxBytes} bytes).");
                return log;
            }
            catch (Exception ex) when (ex is System.IO.IOException || ex is UnauthorizedAccessException || ex is NotSupportedException || ex is ArgumentException)
            {
                ThrowTerminatingError(EchoErrors.InvalidArgument("InvalidLogPath", $"-LogPath: cannot open '{path}' for appending: {ex.Message}", LogPath));
                return null;
            }
        }

        /// <inheritdoc />
        protected override void StopProcessing()
        {
            // Ctrl+C: closing the sockets wakes the server thread wherever it is blocked.
            _stopAsked = true;
            _server?.RequestStop();
        }

        private void WarnIfExposed(EchoServer server)
        {
            var address = server.Options.Address;
            if (IPAddress.IsLoopback(address) || server.Options.AllowList.Count > 0)
                return;
            var reach = address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)
                ? "every network this machine is on"
                : "the network of " + address;
            WriteWarning($"The server on {server.LocalEndPoint} is reachable from {reach}, and with no -AllowList anyone who " +
                "reaches it can use it (an echo service is easy to abuse). Restrict it with -AllowList (for example " +
                "-AllowList 192.168.1.0/24), or bind 127.0.0.1.");
        }

        /// <summary>
        /// After Ctrl+C: writes the events the pipeline can no longer take (the one being written, then the queue up to
        /// the server's Stopped event) to the host, as the rows of the events' normal view, taking at most
        /// <see cref="FlushOnStopLimit"/> to collect them, and says how many were not written. Never throws: the
        /// pipeline is stopping already.
        /// </summary>
        private void WriteQueuedToHost(EchoServerEvent writing, ServerEventQueue events)
        {
            try
            {
                var ui = Host?.UI;
                if (ui == null)
                    return;
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var rows = new List<EchoServerEvent>();
                long left = 0;
                var e = writing;
                if (e != null || events.TryTake(out e))
                {
                    do
                    {
                        // The final Stopped event (the server's totals) is always written.
                        if ((clock.Elapsed < FlushOnStopLimit && rows.Count < FlushOnStopRows) || e.Kind == EchoServerEventKind.Stopped)
                            rows.Add(e);
                        else
                            left++;
                    }
                    while (events.TryTake(out e));
                }
                if (rows.Count > 0)
                {
                    ui.WriteLine("Stopped by Ctrl+C; events not yet written:");
                    foreach (var line in RenderRows(rows))
                        ui.WriteLine(line);
                }
                long dropped = events.TakeDroppedCount();
                if (left > 0 || dropped > 0)
                    ui.WriteLine($"{left + dropped} events not written ({left} left over the {FlushOnStopLimit.TotalSeconds:0} s and " +
                        $"{FlushOnStopRows} rows written at most after Ctrl+C, {dropped} dropped before because the output could not keep up).");
            }
            catch (Exception)
            {
                // A host that cannot write any more: nothing else can be done with these events.
            }
        }

        /// <summary>
        /// The events as the host shows them (their default view, through Out-String at the host's width, in a nested
        /// pipeline of this runspace); their one-line text if the view cannot be reached.
        /// </summary>
        private IEnumerable<string> RenderRows(List<EchoServerEvent> rows)
        {
            try
            {
                int width = 120;
                try
                {
                    width = Math.Max(80, Host.UI.RawUI.BufferSize.Width);
                }
                catch (Exception)
                {
                    // A host without a buffer: the default width.
                }
                using (var ps = PowerShell.Create(RunspaceMode.CurrentRunspace))
                {
                    ps.AddCommand("Out-String").AddParameter("Stream").AddParameter("Width", width);
                    var lines = ps.Invoke<string>(rows).ToList();
                    // Out-String's leading and trailing blank lines frame a table on a console; here they are noise.
                    while (lines.Count > 0 && string.IsNullOrWhiteSpace(lines[0]))
                        lines.RemoveAt(0);
                    while (lines.Count > 0 && string.IsNullOrWhiteSpace(lines[lines.Count - 1]))
                        lines.RemoveAt(lines.Count - 1);
                    if (lines.Count > 0 && !ps.HadErrors)
                        return lines;
                }
            }
            catch (Exception)
            {
                // Fall back to plain lines below.
            }
            return rows.Select(row => row.ToString());
        }

        /// <summary>
        /// The job's Command: this cmdlet with the parameters it was given, not the whole line typed (which may hold an
        /// assignment or a pipeline around it).
        /// </summary>
        private string DescribeInvocation()
        {
            var text = new System.Text.StringBuilder(MyInvocation.MyCommand.Name);
            foreach (var parameter in MyInvocation.BoundParameters)
            {
                var value = parameter.Value is PSObject wrapped ? wrapped.BaseObject : parameter.Value;
                if (value is SwitchParameter flag)
                {
                    if (flag.IsPresent)
                        text.Append(" -").Append(parameter.Key);
                    continue;
                }
                var items = value is System.Collections.IEnumerable list && !(value is string)
                    ? string.Join(",", list.Cast<object>().Select(Format))
                    : Format(value);
                text.Append(" -").Append(parameter.Key).Append(' ').Append(items);
            }
            return text.ToString();

            string Format(object item)
            {
                var plain = item is PSObject inner ? inner.BaseObject : item;
                return Convert.ToString(plain, System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        private void StartJob(EchoServerOptions options, EventLogFile log)
        {
            var job = new EchoServerJob(DescribeInvocation());
            try
            {
                job.Start(options, log);
            }
            catch (EchoServerStartException ex)
            {
                job.Dispose();
                ThrowTerminatingError(EchoErrors.StartFailed(ex));
                return;
            }
            EchoServerRegistry.Add(job.Server);
            JobRepository.Add(job);
            job.StopWhenClosed(System.Management.Automation.Runspaces.Runspace.DefaultRunspace);
            WarnIfExposed(job.Server);
            WriteVerbose($"Server {job.ServerId} listening on {job.Server.LocalEndPoint} as job {job.Id}.");
            WriteObject(job);
        }

        private void RunInForeground(EchoServerOptions options, EventLogFile log)
        {
            // Events arrive on the server thread; only this (the pipeline) thread may write them out. The log, if any,
            // gets every event, also those the queue drops when the output cannot keep up.
            using (log)
            using (var events = new ServerEventQueue())
            {
                Action<EchoServerEvent> deliver = events.Post;
                if (log != null)
                    deliver = e => { log.Write(e); events.Post(e); };
                _server = EchoServer.Create(options, deliver, EchoServerJob.NewServerId());
                try
                {
                    _server.Start();
                }
                catch (EchoServerStartException ex)
                {
                    ThrowTerminatingError(EchoErrors.StartFailed(ex));
                    return;
                }
                EchoServerRegistry.Add(_server);
                WarnIfExposed(_server);
                EchoServerEvent writing = null;
                // SIGTERM and SIGHUP stop the server as Ctrl+C does, but the pipeline goes on: every event, Stopped
                // included, is written out as usual. Only while this server runs.
                var server = _server;
                var signals = StopSignals.Register(_ => server.RequestStop());
                try
                {
                    var stoppers = new[] { "Ctrl+C", "Stop-BlockingEchoServer" }.Concat(signals.Registered).ToList();
                    WriteVerbose($"Server {_server.Id} listening on {_server.LocalEndPoint}; " +
                        $"{string.Join(", ", stoppers.Take(stoppers.Count - 1))} or {stoppers[stoppers.Count - 1]} stops it.");
                    if (signals.Ignored.Count > 0)
                        WriteVerbose($"{string.Join(" and ", signals.Ignored)} {(signals.Ignored.Count == 1 ? "is" : "are")} ignored by this " +
                            "process since it started (inherited, as under nohup): it does not stop the server.");
                    var sinceWarning = System.Diagnostics.Stopwatch.StartNew();
                    while (true)
                    {
                        // Blocks without polling; Ctrl+C and Stop-BlockingEchoServer end the server, whose Stopped
                        // event then ends this loop.
                        var e = events.Take();
                        // At most one warning per interval (a flood must not turn into a flood of warnings), and the
                        // rest of the count before Stopped.
                        if (events.DroppedCount > 0 && (sinceWarning.Elapsed >= DropWarningInterval || e.Kind == EchoServerEventKind.Stopped))
                        {
                            WriteWarning($"{events.TakeDroppedCount()} events were not shown: the output could not keep up with the server. " +
                                "The server's counters (Get-BlockingEchoServer) still include them.");
                            sinceWarning.Restart();
                        }
                        writing = e;
                        if (e.Kind == EchoServerEventKind.Error)
                            WriteError(EchoErrors.ServerFailure(e));
                        else
                            WriteObject(e);
                        writing = null;
                        if (e.Kind == EchoServerEventKind.Stopped)
                            break;
                    }
                    if (signals.Received != null)
                        WriteVerbose($"Stopped by {signals.Received}.");
                    WarnIfLogFailed(log);
                }
                catch (PipelineStoppedException)
                {
                    _server.Stop(StopWait);
                    // Ctrl+C (or a runspace's Stop()): the pipeline takes no more output, so what is still queued goes
                    // to the host. An early end downstream (Select-Object -First, which asks no stop) is quiet: its
                    // consumer has what it wanted, and the rest is dropped (the log, if any, has it all). Stopping
                    // too: a Stop() stops the downstream command first, so its exception can reach here before this
                    // command's StopProcessing has run (the queued events were then lost now and then).
                    if (_stopAsked || Stopping)
                        WriteQueuedToHost(writing, events);
                    throw;
                }
                finally
                {
                    signals.Dispose();
                    // Also reached when a downstream Select-Object -First ends the pipeline: the server must not outlive it.
                    _server.Stop(StopWait);
                }
            }
        }

        private void WarnIfLogFailed(EventLogFile log)
        {
            if (log != null && log.Failures > 0)
                WriteWarning($"{log.Failures} events could not be written to {log.Path}: {log.LastFailure}");
        }

        /// <summary>
        /// When this console's output goes to a file or a pipe (a log, a service manager), tables are rendered as plain
        /// text while the server runs: $PSStyle.OutputRendering 'Host' still writes colour codes there. Restored on
        /// Dispose. Null when nothing needs changing (a terminal, another host, Windows PowerShell without $PSStyle).
        /// </summary>
        private IDisposable PlainTextWhenRedirected()
        {
            try
            {
                if (Host?.Name != "ConsoleHost" || !Console.IsOutputRedirected)
                    return null;
                var style = SessionState.PSVariable.GetValue("PSStyle") is object value ? PSObject.AsPSObject(value) : null;
                var rendering = style?.Properties["OutputRendering"];
                if (rendering == null || rendering.Value?.ToString() == "PlainText")
                    return null;
                var before = rendering.Value;
                rendering.Value = "PlainText";
                return new Restore(() => rendering.Value = before);
            }
            catch (Exception ex) when (ex is ExtendedTypeSystemException || ex is InvalidOperationException || ex is System.IO.IOException)
            {
                return null;
            }
        }

        private sealed class Restore : IDisposable
        {
            private Action _undo;
            public Restore(Action undo) => _undo = undo;
            public void Dispose()
            {
                try
                {
                    _undo?.Invoke();
                }
                catch (Exception ex) when (ex is ExtendedTypeSystemException || ex is InvalidOperationException)
                {
                    // The session is going away: nothing to restore.
                }
                _undo = null;
            }
        }
    }
}
