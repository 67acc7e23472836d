using System;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Threading;

// A test-only client that streams a large, deterministic payload through an echo server in random-sized writes
// while a second thread reads the echo back in random-sized reads, hashing both sides with SHA-256.
public static class StreamProbe
{
    public sealed class Result
    {
        public long BytesSent;
        public long BytesReceived;
        public string SentSha256;
        public string ReceivedSha256;
        public string Error;
    }

    public static Result Run(string host, int port, long totalBytes, int seed, int timeoutMs)
    {
        var result = new Result();
        using (var client = new TcpClient(host, port))
        {
            client.NoDelay = true;
            client.ReceiveTimeout = timeoutMs;
            client.SendTimeout = timeoutMs;
            var socket = client.Client;
            var pattern = new byte[2 << 20];
            new Random(seed).NextBytes(pattern);

            var writer = new Thread(() =>
            {
                try
                {
                    var sizes = new Random(seed + 1);
                    using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
                    {
                        long sent = 0;
                        while (sent < totalBytes)
                        {
                            // Log-uniform sizes from 1 byte to 1 MiB: many tiny writes and some huge ones.
                            int size = (int)Math.Min(totalBytes - sent, Math.Max(1, (1 << sizes.Next(0, 21)) - sizes.Next(0, 2)));
                            int offset = (int)(sent % (1 << 20));
                            int n = socket.Send(pattern, offset, size, SocketFlags.None);
                            hash.AppendData(pattern, offset, n);
                            sent += n;
                        }
                        result.BytesSent = sent;
                        result.SentSha256 = Convert.ToBase64String(hash.GetHashAndReset());
                    }
                    socket.Shutdown(SocketShutdown.Send);
                }
                catch (Exception ex) { result.Error = "send: " + ex.Message; }
            });
            writer.Start();

            try
            {
                var sizes = new Random(seed + 2);
                var buffer = new byte[1 << 20];
                using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
                {
                    long received = 0;
                    int n;
                    while ((n = socket.Receive(buffer, 0, sizes.Next(1, buffer.Length + 1), SocketFlags.None)) > 0)
                    {
                        hash.AppendData(buffer, 0, n);
                        received += n;
                    }
                    result.BytesReceived = received;
                    result.ReceivedSha256 = Convert.ToBase64String(hash.GetHashAndReset());
                }
            }
            catch (Exception ex) { result.Error = "receive: " + ex.Message; }
            if (!writer.Join(timeoutMs))
                result.Error = "writer did not finish";
        }
        return result;
    }
}
