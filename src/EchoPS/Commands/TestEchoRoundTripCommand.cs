using System;
using System.Management.Automation;
using System.Net.Sockets;
using System.Text;
using EchoPS.Client;
using EchoPS.Errors;
using EchoPS.Net;
using EchoPS.Server;

namespace EchoPS.Commands
{
    /// <summary>
    /// <para type="synopsis">Verifies and measures an echo path: round trips, throughput, concurrency, half-close.</para>
    /// </summary>
    [Cmdlet(VerbsDiagnostic.Test, "EchoRoundTrip", DefaultParameterSetName = RoundTripSet)]
    [OutputType(typeof(EchoRoundTripResult), typeof(bool))]
    public sealed class TestEchoRoundTripCommand : PSCmdlet
    {
        private const string RoundTripSet = "RoundTrip";
        private const string ContinuousSet = "Continuous";
        private const string ThroughputSet = "Throughput";
        private const string ConcurrencySet = "Concurrency";
        private const int ProgressId = 0x4543; // keeps this cmdlet's bar apart from a caller's own
        // How often the pipeline thread draws progress while the run measures on its own thread.
        private static readonly TimeSpan ProgressEvery = TimeSpan.FromMilliseconds(250);

        private readonly object _gate = new object();
        private EchoClient _client;
        private byte[] _payload;
        private bool _stopping;

        /// <summary>The echo server's host name or IP address, optionally with a port (host:port, [IPv6]:port). Every address of a name is tried in turn.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("Host", "ComputerName", "Address", "TargetName")]
        [ValidateNotNullOrEmpty]
        public string HostName { get; set; }

        /// <summary>The echo server's TCP port.</summary>
        [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
        [WholeNumber]
        [ValidateRange(1, 65535)]
        [ArgumentCompleter(typeof(Completion.RunningServerPortCompleter))]
        public int Port { get; set; } = EchoServerOptions.DefaultPort;

        /// <summary>Tries only the IPv4 addresses of the host.</summary>
        [Parameter]
        public SwitchParameter IPv4 { get; set; }

        /// <summary>Tries only the IPv6 addresses of the host.</summary>
        [Parameter]
        public SwitchParameter IPv6 { get; set; }

        /// <summary>How many timed round trips to make (a warm-up round trip comes first and is not counted).</summary>
        [Parameter(ParameterSetName = RoundTripSet)]
        [WholeNumber]
        [ValidateRange(1, EchoClientOptions.MaxCount)]
        public int Count { get; set; } = EchoClientOptions.DefaultCount;

        /// <summary>Bytes per message (pseudo-random); in throughput mode, bytes per write (default 65536).</summary>
        [Parameter]
        [WholeNumber]
        [ValidateRange(1, EchoClientOptions.MaxSize)]
        public int Size { get; set; } = EchoClientOptions.DefaultSize;

        /// <summary>The exact message to send instead of pseudo-random bytes: a string (sent as UTF-8) or a byte array.</summary>
        [Parameter]
        [ValidateNotNull]
        public object Payload { get; set; }

        /// <summary>Seconds to pause between messages (fractions allowed); in continuous mode the default is 1.</summary>
        [Parameter(ParameterSetName = RoundTripSet)]
        [Parameter(ParameterSetName = ContinuousSet)]
        [Seconds]
        [ValidateRange(0.0, 3600.0)]
        public double Interval { get; set; }

        /// <summary>Makes one round trip per interval until Ctrl+C, writing one result each.</summary>
        [Parameter(Mandatory = true, ParameterSetName = ContinuousSet)]
        public SwitchParameter Continuous { get; set; }

        /// <summary>Throughput mode: streams this many bytes while reading and verifying the echo at the same time.</summary>
        [Parameter(ParameterSetName = ThroughputSet)]
        [WholeNumber]
        [ValidateRange(1L, long.MaxValue)]
        public long TotalBytes { get; set; }

        /// <summary>Throughput mode: streams for this many seconds (with -TotalBytes, whichever limit comes first).</summary>
        [Parameter(ParameterSetName = ThroughputSet)]
        [Seconds]
        [ValidateRange(0.001, 86400.0)]
        public double DurationSec { get; set; }

        /// <summary>Concurrency mode: this many clients connect at once; each one's wait for its echo is reported.</summary>
        [Parameter(Mandatory = true, ParameterSetName = ConcurrencySet)]
        [WholeNumber]
        [ValidateRange(1, EchoClientOptions.MaxConcurrency)]
        public int Concurrency { get; set; }

        /// <summary>Concurrency mode: milliseconds each client keeps its connection after its echo.</summary>
        [Parameter(ParameterSetName = ConcurrencySet)]
        [WholeNumber]
        [ValidateRange(0, 600_000)]
        public int HoldMs { get; set; } = EchoClientOptions.DefaultHoldMs;

        /// <summary>Shuts down the sending side after the last message; every byte must still come back, then end of stream.</summary>
        [Parameter(ParameterSetName = RoundTripSet)]
        [Parameter(ParameterSetName = ThroughputSet)]
        public SwitchParameter HalfClose { get; set; }

        /// <summary>Sets TCP_NODELAY (on by default; -NoDelay:$false shows Nagle and delayed-ACK effects).</summary>
        [Parameter]
        public SwitchParameter NoDelay { get; set; } = true;

        /// <summary>Seconds allowed for name resolution, for each connect and for every read (fractions allowed).</summary>
        [Parameter]
        [Seconds]
        [ValidateRange(0.01, 3600.0)]
        public double TimeoutSec { get; set; } = EchoClientOptions.DefaultTimeoutSec;

        /// <summary>
        /// Seconds the whole run may take, from name resolution to the close (with -Continuous, each round); a run that
        /// reaches it ends with status TimedOut and what was done by then. The default depends on the mode.
        /// </summary>
        [Parameter]
        [Seconds]
        [ValidateRange(0.001, 2_000_000.0)]
        public double DeadlineSec { get; set; }

        /// <summary>Returns only $true or $false per target, and writes no error.</summary>
        [Parameter]
        public SwitchParameter Quiet { get; set; }

        /// <inheritdoc />
        protected override void BeginProcessing()
        {
            SessionTypeData.EnsureLoaded(this);
            if (IPv4 && IPv6)
                ThrowTerminatingError(EchoErrors.InvalidArgument("ConflictingAddressFamily",
                    "Use -IPv4 or -IPv6, not both: without either, every address of the host is tried.", null));
            if (Payload != null)
            {
                if (IsBound(nameof(Size)))
                    ThrowTerminatingError(EchoErrors.InvalidArgument("SizeWithPayload",
                        "Use -Size or -Payload, not both: a payload's size is its length.", Size));
                _payload = ToBytes(Payload);
            }
            if (ParameterSetName == ThroughputSet && !IsBound(nameof(TotalBytes)) && !IsBound(nameof(DurationSec)))
                ThrowTerminatingError(EchoErrors.InvalidArgument("ThroughputLimitMissing",
                    "Throughput mode needs -TotalBytes, -DurationSec or both.", null));
        }

        /// <inheritdoc />
        protected override void ProcessRecord()
        {
            // One parser for every address: a literal must be canonical, and text meant as one never reaches a resolver.
            var problem = Addressing.ParseTarget(HostName, out var host, out _, out var targetPort);
            if (problem != null)
            {
                WriteError(EchoErrors.InvalidArgument("InvalidTarget", problem, HostName));
                return;
            }
            if (targetPort != null && IsBound(nameof(Port)) && targetPort != Port)
            {
                WriteError(EchoErrors.InvalidArgument("PortConflict",
                    $"'{HostName}' names port {targetPort}, but -Port {Port} was given too: give the port once.", HostName));
                return;
            }
            var port = targetPort ?? Port;

            var options = CreateOptions(port);
            var client = new EchoClient(options);
            lock (_gate)
            {
                if (_stopping)
                {
                    client.Dispose();
                    return;
                }
                _client = client;
            }

            WriteVerbose($"Testing {host} port {port}: {Describe(options)}, timeout {InvariantFormat.Number(TimeoutSec)} s, deadline {InvariantFormat.Seconds(options.EffectiveDeadline)}, TCP_NODELAY {(options.NoDelay ? "on" : "off")}.");
            bool showedProgress = false;
            EchoClientRun run = null;
            try
            {
                // The run measures on a thread of its own; this thread only writes results and draws progress
                // between them, so a slow host never adds to a measured time.
                run = client.Start(host);
                while (true)
                {
                    var state = run.Next(ProgressEvery, out var result);
                    if (state == EchoClientRunState.Finished)
                        break;
                    if (state == EchoClientRunState.Result)
                    {
                        Emit(result);
                        continue;
                    }
                    var progress = client.Progress;
                    if (progress == null)
                        continue;
                    showedProgress = true;
                    WriteProgress(new ProgressRecord(ProgressId, $"Test-EchoRoundTrip {host} port {port}", progress.Status)
                    {
                        PercentComplete = progress.PercentComplete,
                    });
                }
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C: PowerShell is ending the pipeline; there is nothing left to report.
            }
            finally
            {
                run?.Dispose();
                lock (_gate)
                    _client = null;
                client.Dispose();
                if (showedProgress)
                    WriteProgress(new ProgressRecord(ProgressId, $"Test-EchoRoundTrip {host} port {port}", "Done")
                    {
                        RecordType = ProgressRecordType.Completed,
                    });
            }
        }

        /// <inheritdoc />
        protected override void StopProcessing()
        {
            // Ctrl+C: closing the sockets wakes the run wherever it is blocked.
            lock (_gate)
            {
                _stopping = true;
                _client?.Cancel();
            }
        }

        private void Emit(EchoRoundTripResult result)
        {
            string via = string.IsNullOrEmpty(result.Address) ? "" : $" via {result.Address} port {result.Port}";
            string from = string.IsNullOrEmpty(result.LocalEndPoint) ? "" : $" from {result.LocalEndPoint}";
            WriteVerbose($"{result.Status}{via}{from}: {result.Message}");
            if (Quiet)
            {
                WriteObject(result.Success);
                return;
            }
            WriteObject(result);
            if (!result.Success)
                WriteError(EchoErrors.RoundTripFailed(result));
        }

        /// <summary>Maps the parameters given onto the engine's options; what is not given keeps the engine's mode default.</summary>
        private EchoClientOptions CreateOptions(int port)
        {
            var mode = ModeOf(ParameterSetName);
            return new EchoClientOptions
            {
                Port = port,
                Family = IPv4 ? AddressFamily.InterNetwork : IPv6 ? AddressFamily.InterNetworkV6 : (AddressFamily?)null,
                Mode = mode,
                Count = Count,
                Size = IsBound(nameof(Size)) ? Size : (int?)null,
                Payload = _payload,
                Interval = IsBound(nameof(Interval)) ? TimeSpan.FromSeconds(Interval) : (TimeSpan?)null,
                TotalBytes = IsBound(nameof(TotalBytes)) ? TotalBytes : (long?)null,
                Duration = IsBound(nameof(DurationSec)) ? TimeSpan.FromSeconds(DurationSec) : (TimeSpan?)null,
                Concurrency = mode == EchoTestMode.Concurrency ? Concurrency : 1,
                Hold = TimeSpan.FromMilliseconds(HoldMs),
                HalfClose = HalfClose,
                NoDelay = NoDelay,
                Timeout = TimeSpan.FromSeconds(TimeoutSec),
                Deadline = IsBound(nameof(DeadlineSec)) ? TimeSpan.FromSeconds(DeadlineSec) : (TimeSpan?)null,
            };
        }

        private static EchoTestMode ModeOf(string parameterSet)
        {
            switch (parameterSet)
            {
                case ContinuousSet: return EchoTestMode.Continuous;
                case ThroughputSet: return EchoTestMode.Throughput;
                case ConcurrencySet: return EchoTestMode.Concurrency;
                default: return EchoTestMode.RoundTrip;
            }
        }

        private static string Describe(EchoClientOptions o)
        {
            switch (o.Mode)
            {
                case EchoTestMode.Continuous:
                    return $"one {o.MessageSize}-byte round trip every {TypedSeconds(o.EffectiveInterval)} s until Ctrl+C";
                case EchoTestMode.Throughput:
                    return $"streaming {(o.TotalBytes != null ? $"{o.TotalBytes} bytes" : "")}{(o.TotalBytes != null && o.Duration != null ? " or " : "")}{(o.Duration != null ? $"for {TypedSeconds(o.Duration.Value)} s" : "")} in {o.MessageSize}-byte writes";
                case EchoTestMode.Concurrency:
                    return $"{o.Concurrency} clients at once, {o.MessageSize}-byte message each, holding {InvariantFormat.Number(o.Hold.TotalMilliseconds)} ms";
                default:
                    return $"{o.Count} round trips of {o.MessageSize} bytes after one warm-up{(o.EffectiveInterval > TimeSpan.Zero ? $", {TypedSeconds(o.EffectiveInterval)} s apart" : "")}";
            }
        }

        // Seconds as the user typed them, the same under every culture (the engine's own messages use InvariantFormat.Seconds).
        private static string TypedSeconds(TimeSpan time) => InvariantFormat.Number(time.TotalSeconds);

        private bool IsBound(string parameter) => MyInvocation.BoundParameters.ContainsKey(parameter);

        private static readonly System.Text.RegularExpressions.Regex NegativeNumber =
            new System.Text.RegularExpressions.Regex(@"^\s*-\d+(\.\d+)?\s*$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

        private byte[] ToBytes(object payload)
        {
            var value = payload is PSObject wrapped ? wrapped.BaseObject : payload;
            byte[] bytes;
            string problem = null;
            if (value is string text && NegativeNumber.IsMatch(text))
            {
                // PowerShell passes -1 typed after -Payload as the text "-1", while @(-1) arrives as a number: both are
                // refused alike, as a byte out of range, rather than one sending two characters.
                bytes = null;
                problem = $"-Payload has {text}, a negative number: each byte must be a whole number from 0 to 255. To send this text, give its bytes: -Payload ([Text.Encoding]::UTF8.GetBytes('{text}')).";
            }
            else if (value is string text2)
                bytes = new UTF8Encoding(false).GetBytes(text2);
            else if (value is byte[] raw)
                bytes = raw;
            else
            {
                // Numbers one by one, so that an error names the one that is no byte, and nothing is rounded.
                var items = value is System.Collections.IList list ? list : new[] { value };
                bytes = new byte[items.Count];
                for (int i = 0; i < items.Count && problem == null; i++)
                {
                    var item = items[i] is PSObject w ? w.BaseObject : items[i];
                    if (!TryToByte(item, out bytes[i]))
                        problem = $"-Payload has {FormatItem(item)} at index {i}: each byte must be a whole number from 0 to 255 (or give a string, sent as UTF-8).";
                }
            }
            if (problem == null && !EchoClientOptions.IsPayloadLength(bytes.Length))
                problem = $"-Payload must be a non-empty string or byte array of at most {EchoClientOptions.MaxSize} bytes; got {bytes.Length} bytes.";
            if (problem != null)
                ThrowTerminatingError(EchoErrors.InvalidArgument("InvalidPayload", problem, null));
            return bytes;
        }

        private static bool TryToByte(object item, out byte value)
        {
            value = 0;
            if (item == null || item is string || item is char || item is bool)
                return false;
            double number;
            try
            {
                number = Convert.ToDouble(item, System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (Exception ex) when (ex is InvalidCastException || ex is FormatException || ex is OverflowException)
            {
                return false;
            }
            if (number < 0 || number > 255 || Math.Floor(number) != number)
                return false;
            value = (byte)number;
            return true;
        }

        private static string FormatItem(object item) =>
            item == null ? "$null" : item is string s ? $"the text '{s}'" : $"{Convert.ToString(item, System.Globalization.CultureInfo.InvariantCulture)} ({item.GetType().Name})";
    }
}
