using System;
using System.IO;
using System.Runtime.InteropServices;

namespace EchoPS.Measure
{
    /// <summary>
    /// The process's open-file limit on Linux (RLIMIT_NOFILE): read it, and raise the soft limit to the hard one so
    /// that the capacity probe can hold thousands of connections. Elsewhere nothing is read or changed.
    /// </summary>
    internal static class DescriptorLimit
    {
        private const int RlimitNoFile = 7; // Linux, every architecture .NET runs on

        [StructLayout(LayoutKind.Sequential)]
        private struct RLimit
        {
            public ulong Current;
            public ulong Maximum;
        }

        [DllImport("libc", SetLastError = true)]
        private static extern int getrlimit(int resource, out RLimit limit);

        [DllImport("libc", SetLastError = true)]
        private static extern int setrlimit(int resource, ref RLimit limit);

        /// <summary>The soft and hard limits (null where there is no such limit to read), after raising the soft one if asked.</summary>
        internal static (long? Soft, long? Hard, string Note) Get(bool raise)
        {
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
                return (null, null, null);
            try
            {
                if (getrlimit(RlimitNoFile, out var limit) != 0)
                    return (null, null, $"getrlimit(RLIMIT_NOFILE) failed with errno {Marshal.GetLastWin32Error()}.");
                string note = null;
                if (raise && limit.Current < limit.Maximum)
                {
                    var raised = new RLimit { Current = limit.Maximum, Maximum = limit.Maximum };
                    if (setrlimit(RlimitNoFile, ref raised) == 0)
                    {
                        note = $"Raised this process's open-file limit from {limit.Current} to {limit.Maximum} (its hard limit).";
                        limit = raised;
                    }
                    else
                        note = $"Could not raise this process's open-file limit from {limit.Current} (errno {Marshal.GetLastWin32Error()}).";
                }
                return (Clamp(limit.Current), Clamp(limit.Maximum), note);
            }
            catch (Exception ex) when (ex is DllNotFoundException || ex is EntryPointNotFoundException)
            {
                return (null, null, $"The open-file limit could not be read: {ex.Message}");
            }
        }

        /// <summary>Descriptors this process has open now (Linux), or null.</summary>
        internal static int? OpenNow()
        {
            try
            {
                return Directory.Exists("/proc/self/fd") ? Directory.GetFileSystemEntries("/proc/self/fd").Length : (int?)null;
            }
            catch (IOException)
            {
                return null;
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }
        }

        private static long Clamp(ulong value) => value > long.MaxValue ? long.MaxValue : (long)value;
    }
}
