# Moves the bytes of a file from offset R to its end left by D bytes, in place, catching
# up with what is appended meanwhile until the size stops moving, then truncates it to
# size - D, in one process (log-truncate.sh runs it as `perl -e CODE FILE R D`).
# Arguments: $ARGV[0] the file, $ARGV[1] R (where the kept bytes begin), $ARGV[2] D.
# Exit: 0; non-zero (die) when the file cannot be opened, shrank, or a read/write failed.

my ($f, $R, $d) = @ARGV; open(my $h, "+<", $f) or die "$f: $!\n"; for (my $i = 0; ; $i++) { my $E = (stat $h)[7]; die "$f shrank\n" if $E < $R; if ($E == $R || $i > 1000) { truncate($h, $R - $d) or die "$!\n"; last } for (my $p = $R; $p < $E; ) { my $n = $E - $p; $n = 1 << 20 if $n > 1 << 20; sysseek($h, $p, 0); my $got = sysread($h, my $buf, $n); die "$!\n" unless $got; sysseek($h, $p - $d, 0); syswrite($h, $buf) == $got or die "$!\n"; $p += $got } $R = $E }
