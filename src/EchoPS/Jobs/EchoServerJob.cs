using System;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Threading;
using EchoPS.Errors;
using EchoPS.Logging;
using EchoPS.Server;

namespace EchoPS.Jobs
{
    /// <summary>
    /// A running echo server as a PowerShell job: Get-Job lists it, Receive-Job yields its events, Stop-Job stops
    /// the server and Remove-Job cleans up. The job ends (Stopped or Failed) when its server thread ends.
    /// </summary>
    public sealed class EchoServerJob : Job
    {
        private static readonly TimeSpan StopWait = TimeSpan.FromSeconds(5);
        private EchoServer _server;
        private Runspace _owner;
        private EventLogFile _log;
        private int _logFailureWarned;
        private long _dropped;
        private long _unreported;

        internal EchoServerJob(string command) : base(command)
        {
            PSJobTypeName = "EchoServerJob";
        }

        /// <summary>The server this job runs.</summary>
        public EchoServer Server => _server;

        /// <summary>
        /// The server's id: what Get- and Stop-BlockingEchoServer -Id take. Always the same number as the job's
        /// Id: servers and jobs share one id space, so that no job id can name another server.
        /// </summary>
        public int ServerId => _server.Id;

        /// <summary>
        /// A new server id from the job id space, for a server that runs without a job (in the foreground): it
        /// takes a job id that no job will ever have.
        /// </summary>
        internal static int NewServerId()
        {
            using (var reservation = new EchoServerJob(string.Empty))
                return reservation.Id;
        }

        /// <summary>The bound address, as text.</summary>
        public string Address => _server.Address;

        /// <summary>The bound port, also when 0 (a free port) was asked for.</summary>
        public int Port => _server.Port;

        /// <inheritdoc />
        public override string Location => _server?.LocalEndPoint ?? string.Empty;

        /// <inheritdoc />
        public override string StatusMessage => _server?.State.ToString() ?? string.Empty;

        /// <inheritdoc />
        public override bool HasMoreData => Output.Count > 0 || Error.Count > 0;

        /// <summary>
        /// Binds the server with events flowing into this job (and into <paramref name="log"/>, which the job then
        /// owns and closes after the Stopped event); throws if it cannot listen.
        /// </summary>
        internal void Start(EchoServerOptions options, EventLogFile log = null)
        {
            _log = log;
            _server = EchoServer.Create(options, OnServerEvent, Id);
            SetJobState(JobState.Running);
            try
            {
                _server.Start();
                // Named after the bound port, which is only known now when port 0 was asked for.
                Name = $"EchoServer{_server.Port}";
            }
            catch
            {
                _log?.Dispose();
                SetJobState(JobState.Failed);
                throw;
            }
        }

        /// <summary>
        /// Stops the server when <paramref name="runspace"/> (the session that started it) closes: a background
        /// server lives as long as its session, not as long as the process.
        /// </summary>
        internal void StopWhenClosed(Runspace runspace)
        {
            if (runspace == null)
                return;
            _owner = runspace;
            runspace.StateChanged += OnOwnerStateChanged;
        }

        /// <inheritdoc />
        public override void StopJob()
        {
            // Stop-Job waits for this call; the server thread ends promptly once its sockets are closed, and its
            // Stopped event moves the job to a finished state before Stop returns.
            _server?.Stop(StopWait);
        }

        /// <inheritdoc />
        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _server?.Dispose();
                _log?.Dispose();
            }
            base.Dispose(disposing);
        }

        /// <summary>Events dropped because the job held as many unreceived events as it may (each drop is also warned of).</summary>
        public long DroppedEvents => Interlocked.Read(ref _dropped);

        private void OnServerEvent(EchoServerEvent e)
        {
            // The log gets every event, also those dropped below; a failing log is warned of once.
            var log = _log;
            if (log != null)
            {
                log.Write(e);
                if (log.Failures > 0 && Interlocked.Exchange(ref _logFailureWarned, 1) == 0)
                    Warning.Add(new WarningRecord($"Events could not be written to {log.Path}: {log.LastFailure}"));
            }
            // PSDataCollection is thread-safe: the server thread (and the event folder's timer) may add to it directly.
            // Bounded like a foreground server's queue: an undrained job under a flood keeps at most this many events,
            // and says how many it dropped (as a warning, once there is room again). Stopped is always kept.
            if (e.Kind != EchoServerEventKind.Stopped && Output.Count + Error.Count >= EchoServerOptions.MaxHeldEvents)
            {
                Interlocked.Increment(ref _dropped);
                Interlocked.Increment(ref _unreported);
                return;
            }
            long dropped = Interlocked.Exchange(ref _unreported, 0);
            if (dropped > 0)
                Warning.Add(new WarningRecord($"{dropped} events were dropped: the job holds at most {EchoServerOptions.MaxHeldEvents} " +
                    "unreceived events (Receive-Job takes them). The server's counters (Get-BlockingEchoServer) still include them."));
            if (e.Kind == EchoServerEventKind.Error)
                Error.Add(EchoErrors.ServerFailure(e));
            else
                Output.Add(PSObject.AsPSObject(e));

            if (e.Kind == EchoServerEventKind.Stopped)
            {
                var owner = _owner;
                if (owner != null)
                    owner.StateChanged -= OnOwnerStateChanged;
                log?.Dispose();
                SetJobState(_server.State == EchoServerState.Failed ? JobState.Failed : JobState.Stopped);
            }
        }

        private void OnOwnerStateChanged(object sender, RunspaceStateEventArgs e)
        {
            var state = e.RunspaceStateInfo.State;
            if (state == RunspaceState.Closing || state == RunspaceState.Closed || state == RunspaceState.Broken)
                _server?.Stop(StopWait);
        }
    }
}
