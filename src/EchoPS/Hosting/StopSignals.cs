using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;

namespace EchoPS.Hosting
{
    /// <summary>
    /// While registered, SIGTERM and SIGHUP (how kill, systemd, containers and CI stop a process, and a closed
    /// terminal) call a stop action instead of ending the process at once: a foreground server then stops as on
    /// Ctrl+C (its Stopped event written, the port freed) and the process exits when its script ends (0 for a script
    /// that only runs the server). Uses .NET 6+ <c>PosixSignalRegistration</c>, found at run time: the assembly targets
    /// netstandard2.0 and loads in Windows PowerShell 5.1, where there is no such type and this does nothing.
    /// A signal the process ignores since it started (inherited, as under nohup) stays ignored: the runtime keeps the
    /// disposition, so it is listed in <see cref="Ignored"/>, never in <see cref="Registered"/>.
    /// </summary>
    public sealed class StopSignals : IDisposable
    {
        private static readonly string[] Signals = { "SIGTERM", "SIGHUP" };
        private static readonly Dictionary<string, int> LinuxNumbers = new Dictionary<string, int> { ["SIGTERM"] = 15, ["SIGHUP"] = 1 };
        private readonly List<IDisposable> _registrations = new List<IDisposable>();
        private readonly Action<string> _onStop;
        private string _received;

        private StopSignals(Action<string> onStop) => _onStop = onStop;

        /// <summary>Whether this runtime can turn the signals into a stop (.NET 6 or later).</summary>
        public static bool Supported => RegistrationType != null;

        /// <summary>The name of the first signal received ("SIGTERM"), or null.</summary>
        public string Received => System.Threading.Volatile.Read(ref _received);

        /// <summary>The signals now turned into a stop (none where the runtime cannot).</summary>
        public IReadOnlyList<string> Registered { get; private set; } = Array.Empty<string>();

        /// <summary>
        /// The signals this process still ignores after registering (on Linux: SigIgn of /proc/self/status): ignored
        /// since it started, as under nohup, so they stop nothing. Empty where that cannot be read.
        /// </summary>
        public IReadOnlyList<string> Ignored { get; private set; } = Array.Empty<string>();

        /// <summary>
        /// Registers the handlers; <paramref name="onStop"/> runs on the runtime's signal thread with the signal's name
        /// and must return quickly. Dispose unregisters them (the default, ending the process, applies again).
        /// </summary>
        public static StopSignals Register(Action<string> onStop)
        {
            var signals = new StopSignals(onStop);
            var type = RegistrationType;
            if (type == null)
                return signals;
            var create = type.GetMethod("Create", BindingFlags.Public | BindingFlags.Static);
            var signalType = create?.GetParameters()[0].ParameterType;
            var handlerType = create?.GetParameters()[1].ParameterType;
            if (signalType == null || handlerType == null)
                return signals;
            // Action<PosixSignalContext> bound to a method taking object: parameter contravariance, no compile reference.
            var handler = Delegate.CreateDelegate(handlerType, signals,
                typeof(StopSignals).GetMethod(nameof(OnSignal), BindingFlags.NonPublic | BindingFlags.Instance));
            var registered = new List<string>();
            foreach (var name in Signals)
            {
                try
                {
                    var signal = Enum.Parse(signalType, name);
                    signals._registrations.Add((IDisposable)create.Invoke(null, new[] { signal, handler }));
                    registered.Add(name);
                }
                catch (Exception ex) when (ex is TargetInvocationException || ex is ArgumentException)
                {
                    // A platform without this signal (SIGHUP on some hosts): the others still count.
                }
            }
            var ignored = StillIgnored(registered, Measure.ProcFs.Read("/proc/self/status"));
            signals.Registered = registered.Except(ignored).ToList();
            signals.Ignored = ignored;
            return signals;
        }

        /// <inheritdoc />
        public void Dispose()
        {
            foreach (var registration in _registrations)
                registration.Dispose();
            _registrations.Clear();
        }

        private void OnSignal(object context)
        {
            // Runs on the runtime's signal thread: everything is caught, an escaping exception would end the process.
            try
            {
                var type = context.GetType();
                type.GetProperty("Cancel")?.SetValue(context, true);
                var name = type.GetProperty("Signal")?.GetValue(context)?.ToString() ?? "signal";
                System.Threading.Interlocked.CompareExchange(ref _received, name, null);
                _onStop(name);
            }
            catch (Exception)
            {
                // Nothing to report to from here; the stop action itself never throws (RequestStop).
            }
        }

        /// <summary>
        /// Of <paramref name="names"/>, those whose bit is set in the SigIgn line of a Linux /proc/[pid]/status text
        /// (a hexadecimal mask, bit n-1 for signal n); none when the text is null or has no such line.
        /// </summary>
        internal static IReadOnlyList<string> StillIgnored(IEnumerable<string> names, string procStatus)
        {
            var line = procStatus?.Split('\n').FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
            if (line == null || !ulong.TryParse(line.Substring("SigIgn:".Length).Trim(), System.Globalization.NumberStyles.AllowHexSpecifier,
                    System.Globalization.CultureInfo.InvariantCulture, out var mask))
                return Array.Empty<string>();
            return names.Where(n => LinuxNumbers.TryGetValue(n, out var number) && (mask & (1UL << (number - 1))) != 0).ToList();
        }

        private static Type RegistrationType =>
            Type.GetType("System.Runtime.InteropServices.PosixSignalRegistration, System.Runtime.InteropServices") ??
            AppDomain.CurrentDomain.GetAssemblies()
                .Select(a => a.GetType("System.Runtime.InteropServices.PosixSignalRegistration", false))
                .FirstOrDefault(t => t != null);
    }
}
