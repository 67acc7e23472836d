using System;
using System.IO;
using System.Text;
using System.Text.RegularExpressions;
using EchoPS.Server;

namespace EchoPS.Logging
{
    /// <summary>
    /// A server's structured log (-LogPath): one JSON object per event on one line (JSON Lines), written and flushed
    /// to the operating system as each event arrives, so a crash loses nothing already reported. Events carry sizes,
    /// endpoints, times and reasons, never payload. Size-capped: a line that would take the file past
    /// <see cref="MaxBytes"/> first moves the file to "<c>path</c>.1" (replacing the previous one) and starts a new
    /// one, so the log never takes more than twice the cap on disk. Thread-safe: the server thread and the event
    /// folder's timer both write. A write that fails (disk full, file removed with its folder) is counted, never
    /// thrown at the server; the owner reports <see cref="Failures"/> and <see cref="LastFailure"/>.
    /// </summary>
    public sealed class EventLogFile : IDisposable
    {
        /// <summary>The default cap of one log file: 10 MiB (about 40,000 events).</summary>
        public const long DefaultMaxBytes = 10L * 1024 * 1024;

        /// <summary>The smallest cap allowed: one event line must always fit.</summary>
        public const long MinMaxBytes = 4096;

        private static readonly Encoding Utf8 = new UTF8Encoding(false);
        // The measurement's JSON writer indents; its strings escape every control character, so each newline it
        // writes (with the indent after it) is layout and can go, leaving one line.
        private static readonly Regex Layout = new Regex("\n *", RegexOptions.Compiled);
        private readonly object _gate = new object();
        private FileStream _file;
        private long _failures;

        /// <summary>Opens (or creates) the log for appending; throws an IOException or UnauthorizedAccessException when it cannot.</summary>
        public EventLogFile(string path, long maxBytes = DefaultMaxBytes)
        {
            if (maxBytes < MinMaxBytes)
                throw new ArgumentOutOfRangeException(nameof(maxBytes), maxBytes, $"The log's cap must be at least {MinMaxBytes} bytes.");
            Path = path;
            MaxBytes = maxBytes;
            _file = Open(path);
        }

        /// <summary>The log file's full path.</summary>
        public string Path { get; }

        /// <summary>The most bytes one log file holds before it is moved to "<c>path</c>.1".</summary>
        public long MaxBytes { get; }

        /// <summary>How many times the file was moved to "<c>path</c>.1" and started again.</summary>
        public int Rotations { get; private set; }

        /// <summary>Events that could not be written.</summary>
        public long Failures => System.Threading.Interlocked.Read(ref _failures);

        /// <summary>Why the last write failed, or null.</summary>
        public string LastFailure { get; private set; }

        /// <summary>The one line (without its line end) an event is written as.</summary>
        public static string ToJsonLine(EchoServerEvent e) => Layout.Replace(Measure.Json.Write(e).TrimEnd(), "");

        /// <summary>Appends one event as one line and flushes it; never throws (a failure is counted).</summary>
        public void Write(EchoServerEvent e)
        {
            try
            {
                var bytes = Utf8.GetBytes(ToJsonLine(e) + "\n");
                lock (_gate)
                {
                    if (_file == null)
                        return;
                    if (_file.Length > 0 && _file.Length + bytes.Length > MaxBytes)
                        Rotate();
                    _file.Write(bytes, 0, bytes.Length);
                    _file.Flush();
                }
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is ObjectDisposedException)
            {
                System.Threading.Interlocked.Increment(ref _failures);
                LastFailure = ex.Message;
            }
        }

        /// <inheritdoc />
        public void Dispose()
        {
            lock (_gate)
            {
                _file?.Dispose();
                _file = null;
            }
        }

        private void Rotate()
        {
            _file.Dispose();
            _file = null;
            string previous = Path + ".1";
            if (File.Exists(previous))
                File.Delete(previous);
            File.Move(Path, previous);
            Rotations++;
            _file = Open(Path);
        }

        // Others may read (tail -f) and even delete or rename it (an outside rotation) while the server writes.
        private static FileStream Open(string path) =>
            new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
    }
}
