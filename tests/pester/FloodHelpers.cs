using System;
using System.Collections.Generic;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Net;
using System.Net.Sockets;
using System.Security;

// Test-only helpers for Flood.Tests.ps1: a fast client that opens many short connections, and a host that records
// what a cmdlet writes straight to the host (as a console would show it).
public static class ConnectionFlood
{
    // Opens count connections one after another: connect, send one byte, read it back (or end of stream, for a
    // rejected client), close. Returns how many completed; stops at the first failure (the message is in error).
    public static int Run(int port, int count, string localAddress, int timeoutMs, out string error)
    {
        error = null;
        var payload = new byte[] { 42 };
        var reply = new byte[1];
        for (int i = 0; i < count; i++)
        {
            try
            {
                using (var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
                {
                    socket.ReceiveTimeout = timeoutMs;
                    socket.SendTimeout = timeoutMs;
                    socket.NoDelay = true;
                    if (!string.IsNullOrEmpty(localAddress))
                        socket.Bind(new IPEndPoint(IPAddress.Parse(localAddress), 0));
                    socket.Connect(IPAddress.Loopback, port);
                    socket.Send(payload);
                    try { socket.Receive(reply); } catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset) { }
                }
            }
            catch (SocketException ex)
            {
                error = ex.Message;
                return i;
            }
        }
        return count;
    }
}

// Socket options read from the kernel: .NET's ReceiveTimeout and SendTimeout getters answer from its own copy.
public static class KernelSocketOptions
{
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct TimeValue { public IntPtr Seconds; public IntPtr Microseconds; }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    private static extern int GetSockOpt(int descriptor, int level, int name, ref TimeValue value, ref int length);

    // SO_RCVTIMEO (20) or SO_SNDTIMEO (21) of a socket, in milliseconds, as Linux has it.
    public static long TimeoutMs(Socket socket, bool send)
    {
        var value = new TimeValue();
        int length = IntPtr.Size * 2;
        if (GetSockOpt((int)socket.Handle, 1, send ? 21 : 20, ref value, ref length) != 0)
            throw new SocketException(System.Runtime.InteropServices.Marshal.GetLastWin32Error());
        return (long)value.Seconds * 1000 + (long)value.Microseconds / 1000;
    }
}

public sealed class RecordingHost : PSHost
{
    private readonly RecordingHostUI _ui = new RecordingHostUI();
    private readonly Guid _id = Guid.NewGuid();

    public List<string> Lines => _ui.Lines;
    public override CultureInfo CurrentCulture => CultureInfo.InvariantCulture;
    public override CultureInfo CurrentUICulture => CultureInfo.InvariantCulture;
    public override Guid InstanceId => _id;
    public override string Name => "RecordingHost";
    public override PSHostUserInterface UI => _ui;
    public override Version Version => new Version(1, 0);
    public override void EnterNestedPrompt() { }
    public override void ExitNestedPrompt() { }
    public override void NotifyBeginApplication() { }
    public override void NotifyEndApplication() { }
    public override void SetShouldExit(int exitCode) { }

    private sealed class RecordingHostUI : PSHostUserInterface
    {
        public readonly List<string> Lines = new List<string>();
        private void Add(string line) { lock (Lines) Lines.Add(line); }
        public override PSHostRawUserInterface RawUI => null;
        public override Dictionary<string, PSObject> Prompt(string caption, string message, System.Collections.ObjectModel.Collection<FieldDescription> descriptions) => throw new NotSupportedException();
        public override int PromptForChoice(string caption, string message, System.Collections.ObjectModel.Collection<ChoiceDescription> choices, int defaultChoice) => throw new NotSupportedException();
        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) => throw new NotSupportedException();
        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName, PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options) => throw new NotSupportedException();
        public override string ReadLine() => throw new NotSupportedException();
        public override SecureString ReadLineAsSecureString() => throw new NotSupportedException();
        public override void Write(string value) => Add(value);
        public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => Add(value);
        public override void WriteLine(string value) => Add(value);
        public override void WriteErrorLine(string value) => Add("error: " + value);
        public override void WriteDebugLine(string message) { }
        public override void WriteProgress(long sourceId, ProgressRecord record) { }
        public override void WriteVerboseLine(string message) { }
        public override void WriteWarningLine(string message) => Add("warning: " + message);
    }
}
