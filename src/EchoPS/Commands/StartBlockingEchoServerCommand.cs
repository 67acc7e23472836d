using System;
using System.Linq;
using System.Collections.Generic;
using System.Management.Automation;
using System.Net;
using EchoPS.Errors;
using EchoPS.Jobs;
using EchoPS.LockDown;
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

        private EchoServer _server;

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

        /// <summary>Seconds a client may send nothing before it is cut off (default 60; 0 = never).</summary>
        [Parameter]
        [ValidateSeconds(EchoServerOptions.MaxTimeoutSeconds)]
        public double IdleTimeoutSec { get; set; } = EchoServerOptions.DefaultIdleTimeout.TotalSeconds;

        /// <summary>Seconds one write of the echo may block on a client that does not read (default 10; 0 = forever).</summary>
        [Parameter]
        [ValidateSeconds(EchoServerOptions.MaxTimeoutSeconds)]
        public double SendTimeoutSec { get; set; } = EchoServerOptions.DefaultSendTimeout.TotalSeconds;

        /// <summary>Bytes one connection may send; it is cut off once they are echoed (default 0 = unlimited).</summary>
        [Parameter]
        [WholeNumber]
        [ValidateRange(0, long.MaxValue)]
        public long MaxBytesPerConnection { get; set; }

        /// <summary>Seconds one connection may last (default 0 = unlimited).</summary>
        [Parameter]
        [ValidateSeconds(EchoServerOptions.MaxTimeoutSeconds)]
        public double MaxSessionSec { get; set; }

        /// <summary>Seconds one client may keep the only slot while others wait in the backlog (default 60; 0 = no limit).</summary>
        [Parameter]
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
        protected override void BeginProcessing() => ModuleSessionData.EnsureLoaded(this);

        /// <inheritdoc />
        protected override void ProcessRecord()
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

            WriteVerbose($"Binding {target}: {options.DescribeSettings("; ")}.");
            if (AsJob)
                StartJob(options);
            else
                RunInForeground(options);
        }

        /// <inheritdoc />
        protected override void StopProcessing()
        {
            // Ctrl+C: closing the sockets wakes the server thread wherever it is blocked.
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
        /// the server's Stopped event) to the host as plain lines, for at most <see cref="FlushOnStopLimit"/>, and
        /// says how many were not written. Never throws: the pipeline is stopping already.
        /// </summary>
        private void WriteQueuedToHost(EchoServerEvent writing, ServerEventQueue events)
        {
            try
            {
                var ui = Host?.UI;
                if (ui == null)
                    return;
                var clock = System.Diagnostics.Stopwatch.StartNew();
                long written = 0, left = 0;
                var e = writing;
                if (e != null || events.TryTake(out e))
                {
                    ui.WriteLine("Stopped by Ctrl+C; events not yet written:");
                    do
                    {
                        if (clock.Elapsed < FlushOnStopLimit)
                        {
                            ui.WriteLine(e.ToString());
                            written++;
                        }
                        else
                        {
                            left++;
                        }
                    }
                    while (events.TryTake(out e));
                }
                long dropped = events.TakeDroppedCount();
                if (left > 0 || dropped > 0)
                    ui.WriteLine($"{left + dropped} events not written ({left} left when the {FlushOnStopLimit.TotalSeconds:0} s limit " +
                        $"for writing after Ctrl+C ran out, {dropped} dropped before because the output could not keep up).");
            }
            catch (Exception)
            {
                // A host that cannot write any more: nothing else can be done with these events.
            }
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

        private void StartJob(EchoServerOptions options)
        {
            var job = new EchoServerJob(DescribeInvocation());
            try
            {
                job.Start(options);
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

        private void RunInForeground(EchoServerOptions options)
        {
            // Events arrive on the server thread; only this (the pipeline) thread may write them out.
            using (var events = new ServerEventQueue())
            {
                _server = EchoServer.Create(options, events.Post, EchoServerJob.NewServerId());
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
                try
                {
                    WriteVerbose($"Server {_server.Id} listening on {_server.LocalEndPoint}; Ctrl+C or Stop-BlockingEchoServer stops it.");
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
                }
                catch (PipelineStoppedException)
                {
                    // Ctrl+C: the pipeline takes no more output, so what is still queued goes to the host as text.
                    _server.Stop(StopWait);
                    WriteQueuedToHost(writing, events);
                    throw;
                }
                finally
                {
                    // Also reached when a downstream Select-Object -First ends the pipeline: the server must not outlive it.
                    _server.Stop(StopWait);
                }
            }
        }
    }
}
