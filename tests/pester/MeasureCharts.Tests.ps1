# Measure-EchoServer -Path's charts, checked as a reader sees them: each SVG rendered to PNG (rsvg-convert, from
# librsvg2-bin, installed like the suite's other tools), every legend entry's colour found in the plot's pixels
# (not only in the legend), every chart under 300 KB. Four servers, two of them drawn on top of each other (the
# same blocking server under two labels) and two that serve everyone at once, so overlapping series are tested.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot '../../build/DevTools.psm1') -Force
    $script:rsvg = Install-DebianTool @{ 'rsvg-convert' = 'librsvg2-bin' }
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'EchoTestHelpers.ps1')
    . (Join-Path $PSScriptRoot 'PeerServers.ps1')
    Import-Module (Join-Path $PSScriptRoot '../../build/DevTools.psm1') -Force
    Import-Module $ModuleManifest -Force
    $rsvgReason = (Install-DebianTool @{ 'rsvg-convert' = 'librsvg2-bin' }).Reason

    Add-Type -TypeDefinition @'
using System;
using System.IO;
using System.IO.Compression;

/// A PNG's pixels as RGBA bytes: 8-bit RGB or RGBA, not interlaced (what rsvg-convert writes).
public static class PngPixels
{
    public static byte[] Read(string path, out int width, out int height)
    {
        var data = File.ReadAllBytes(path);
        int pos = 8, colorType = 0, depth = 0;
        width = height = 0;
        var idat = new MemoryStream();
        while (pos < data.Length)
        {
            int length = (data[pos] << 24) | (data[pos + 1] << 16) | (data[pos + 2] << 8) | data[pos + 3];
            string type = System.Text.Encoding.ASCII.GetString(data, pos + 4, 4);
            if (type == "IHDR")
            {
                width = (data[pos + 8] << 24) | (data[pos + 9] << 16) | (data[pos + 10] << 8) | data[pos + 11];
                height = (data[pos + 12] << 24) | (data[pos + 13] << 16) | (data[pos + 14] << 8) | data[pos + 15];
                depth = data[pos + 16];
                colorType = data[pos + 17];
                if (data[pos + 20] != 0) throw new NotSupportedException("interlaced PNG");
            }
            else if (type == "IDAT")
                idat.Write(data, pos + 8, length);
            pos += 12 + length;
        }
        if (depth != 8 || (colorType != 6 && colorType != 2)) throw new NotSupportedException("PNG colour type " + colorType + ", depth " + depth);
        int bpp = colorType == 6 ? 4 : 3, stride = width * bpp;
        idat.Position = 0;
        var raw = new MemoryStream();
        using (var z = new ZLibStream(idat, CompressionMode.Decompress)) z.CopyTo(raw);
        var bytes = raw.ToArray();
        var rows = new byte[height * stride];
        for (int y = 0; y < height; y++)
        {
            int filter = bytes[y * (stride + 1)], src = y * (stride + 1) + 1, dst = y * stride;
            for (int x = 0; x < stride; x++)
            {
                int a = x >= bpp ? rows[dst + x - bpp] : 0, b = y > 0 ? rows[dst - stride + x] : 0, c = x >= bpp && y > 0 ? rows[dst - stride + x - bpp] : 0;
                int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
                int predictor = filter == 1 ? a : filter == 2 ? b : filter == 3 ? (a + b) / 2 : filter == 4 ? (pa <= pb && pa <= pc ? a : pb <= pc ? b : c) : 0;
                rows[dst + x] = (byte)(bytes[src + x] + predictor);
            }
        }
        if (bpp == 4) return rows;
        var rgba = new byte[width * height * 4];
        for (int i = 0, j = 0; i < rows.Length; i += 3, j += 4) { rgba[j] = rows[i]; rgba[j + 1] = rows[i + 1]; rgba[j + 2] = rows[i + 2]; rgba[j + 3] = 255; }
        return rgba;
    }

    /// Opaque pixels within tolerance of the colour, in rows [0, rowEnd).
    public static int Count(byte[] rgba, int width, int rowEnd, byte r, byte g, byte b, int tolerance)
    {
        int count = 0;
        for (int i = 0; i < rowEnd * width * 4 && i < rgba.Length; i += 4)
            if (rgba[i + 3] > 200 && Math.Abs(rgba[i] - r) <= tolerance && Math.Abs(rgba[i + 1] - g) <= tolerance && Math.Abs(rgba[i + 2] - b) <= tolerance)
                count++;
        return count;
    }
}
'@

    # Renders one chart to PNG and checks that each legend entry's colour (series k has palette colour k, k its place in
    # $names) is seen above the legend, in the plot; returns the legend entries' server names in order.
    function Assert-LegendSeriesSeen([string] $Chart) {
        $svgPath = Join-Path $dir $Chart
        $png = Join-Path $TestDrive ($Chart -replace '\.svg$', '.png')
        & rsvg-convert -o $png $svgPath
        $LASTEXITCODE | Should -Be 0
        $width = 0; $height = 0
        $pixels = [PngPixels]::Read($png, [ref]$width, [ref]$height)
        $width | Should -Be 900
        $height | Should -Be 500
        # The legend sits below the plot: only pixels above its first entry count as the series being seen.
        $svg = [xml](Get-Content $svgPath -Raw)
        # Legend entries are drawn from their left end; an axis's server names (servercost.svg's rows) from their right.
        $texts = @($svg.GetElementsByTagName('text') | Where-Object { $t = $_.InnerText; $_.'text-anchor' -eq 'start' -and @($names | Where-Object { $t -like "$_*" }).Count -gt 0 })
        $top = ($texts | ForEach-Object { [double]($_.transform -replace '^translate\([\d.]+,([\d.]+)\).*$', '$1') - [double]$_.'font-size' } | Measure-Object -Minimum).Minimum
        foreach ($text in $texts) {
            $k = [array]::IndexOf($names, @($names | Where-Object { $text.InnerText -like "$_*" })[0])
            $c = $palette[$k]
            $seen = [PngPixels]::Count($pixels, $width, [int]$top - 4, [Convert]::ToByte($c.Substring(0, 2), 16), [Convert]::ToByte($c.Substring(2, 2), 16), [Convert]::ToByte($c.Substring(4, 2), 16), 16)
            $seen | Should -BeGreaterThan 10 -Because "$($names[$k]) (#$c) must show in the plot of $Chart, not only in its legend"
            $names[$k]
        }
    }

    # The charts' palette (Okabe-Ito, in the order MeasureCharts gives it): series k has colour k.
    $palette = @('0072B2', 'D55E00', '009E73', 'CC79A7')
    $names = @('EchoPS', 'select', 'epoll', 'again')
    $bin = Join-Path $TestDrive 'peers'
    $select = Start-PeerServer select $bin
    $epoll = Start-PeerServer epoll $bin
    $echops = Start-BlockingEchoServer -Port 0 -AsJob
    $dir = Join-Path $TestDrive 'report'
    $measured = $null
    if ($select -and $epoll) {
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $measured = Measure-EchoServer "EchoPS=127.0.0.1:$($echops.Port)", $select.Target, $epoll.Target, "again=127.0.0.1:$($echops.Port)" -Quick -Rounds 2 -CapacityConnections 2000 -TimeoutSec 1 -Path $dir -ErrorAction SilentlyContinue
        Write-Host "Four servers, -Quick -Rounds 2 with capacity 2,000: $([int]$clock.Elapsed.TotalSeconds) s"
    }
}

AfterAll {
    if ($echops) { $echops | Stop-Job; $echops | Remove-Job -Force }
    Stop-PeerServer $select
    Stop-PeerServer $epoll
}

Describe 'Measure-EchoServer charts: every series visible, every chart small' {
    It 'writes every chart, each under 300 KB (the capacity timeline downsampled)' {
        if (-not $measured) { Set-ItResult -Skipped -Because 'gcc is missing or could not build the C servers'; return }
        @(Get-ChildItem $dir -Filter *.svg -Name | Sort-Object) | Should -Be @('capacity.svg', 'latency.svg', 'load.svg', 'servercost.svg', 'slots.svg', 'throughput.svg')
        foreach ($svg in Get-ChildItem $dir -Filter *.svg) { $svg.Length | Should -BeLessThan 300KB -Because "$($svg.Name) is $($svg.Length) bytes" }
    }

    It "draws every legend entry's series where the eye sees it (<_>)" -ForEach @('latency.svg', 'slots.svg', 'capacity.svg', 'load.svg') {
        if (-not $measured) { Set-ItResult -Skipped -Because 'gcc is missing or could not build the C servers'; return }
        if ($rsvgReason) { Set-ItResult -Skipped -Because $rsvgReason; return }
        $legend = Assert-LegendSeriesSeen $_
        $legend | Should -HaveCount 4 -Because 'one legend entry per server'
    }

    It "draws each observed server's CPU per operation where the eye sees it (servercost.svg)" {
        if (-not $measured) { Set-ItResult -Skipped -Because 'gcc is missing or could not build the C servers'; return }
        if ($rsvgReason) { Set-ItResult -Skipped -Because $rsvgReason; return }
        # The C servers are processes of their own, found by port and observed; EchoPS runs in this process (a job
        # here), so its CPU is the measurer's too and it is not observed: no row, no legend entry.
        foreach ($name in 'select', 'epoll') {
            $server = $measured | Where-Object Name -eq $name
            @($server.ServerCost | Where-Object Figure -in 'RoundTrip', 'Connections', 'Load' | Where-Object { $null -ne $_.CpuUsPerOp }) | Should -HaveCount 3 -Because "$name's CPU is observed for each of those figures ($($server.ServerObserved))"
            @($server.Spread.Figure) | Should -Contain 'ServerLoadCpuUsPerOp' -Because 'the rounds give the server cost its spread (the whiskers)'
        }
        $legend = Assert-LegendSeriesSeen 'servercost.svg'
        $legend | Should -Be @('select', 'epoll')
        $svg = Get-Content (Join-Path $dir 'servercost.svg') -Raw
        foreach ($axis in 'µs per round trip', 'µs per connection', 'µs per round trip, load') { $svg | Should -Match ([regex]::Escape($axis)) }
        # Whiskers: a black polyline of 6 points (cap, line, cap) per server and figure with 2 rounds.
        @(([xml]$svg).GetElementsByTagName('polyline') | Where-Object { $_.style -match 'stroke:black' -and ($_.points -split ' ').Count -eq 6 }).Count | Should -BeGreaterOrEqual 6
    }

    It 'puts the blocking servers above the capacity axis (a log scale), and whiskers on the stream bars' {
        if (-not $measured) { Set-ItResult -Skipped -Because 'gcc is missing or could not build the C servers'; return }
        $capacity = Get-Content (Join-Path $dir 'capacity.svg') -Raw
        $capacity | Should -Match 'connections echoed \(log\)'
        ($measured | Where-Object Name -eq 'EchoPS').CapacityEchoed | Should -Be 1
        $throughput = [xml](Get-Content (Join-Path $dir 'throughput.svg') -Raw)
        # A whisker: one black polyline of 6 points (cap, line, cap) per server with 2 rounds.
        $whiskers = @($throughput.GetElementsByTagName('polyline') | Where-Object { $_.style -match 'stroke:black' -and ($_.points -split ' ').Count -eq 6 })
        $whiskers.Count | Should -Be 4
    }
}
