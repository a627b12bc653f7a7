#!/usr/bin/perl
# The pod's status endpoint and its probe endpoint, in one process that never forks.
#   perl status-server.pl STATUS_PORT HEALTH_PORT STATUS_FILE BUSY_FILE READY_MAX_AGE LIVE_MAX_AGE
# STATUS_PORT (0 = none): whoever connects gets the status line (STATUS_FILE) and the close;
#   peers read it (see README.md, "status endpoint").
# HEALTH_PORT: HTTP GET /startup, /ready, /live for the kubelet's httpGet probes: 200 or 503 with
#   the reason in the body. An exec probe costs a fork of the runtime's exec, of bash and of psql,
#   and a new PostgreSQL backend, every period of every pod; this costs a read of a file.
# The verdicts come from the status line that the entrypoint refreshes from the running
# instance (node-entrypoint.sh, supervise) or from Pgpool-II (pgpool-entrypoint.sh):
#   startup  the entrypoint chose a serving state, refreshed within READY_MAX_AGE seconds;
#   ready    the same, and a standby streams;
#   live     fails only when the line has not been refreshed for LIVE_MAX_AGE seconds in a
#            serving state, outside a long operation (BUSY_FILE exists during clone, rewind,
#            hold, promotion): postgres, Pgpool-II or the supervisor is wedged.
# perl-base is Essential in Debian, so it is in every image built on it; bash cannot accept
# connections.
use strict;
use warnings;

# States in which the pod serves clients (pgpool pods publish "serving").
my %SERVING = map { $_ => 1 } qw(primary standby witness serving);

# Field $name of status line $line, or undef.
sub field {
    my ($line, $name) = @_;
    return undef unless defined $line;
    return $1 if $line =~ /(?:^|\s)\Q$name\E=(\S*)/;
    return undef;
}

# The probe verdict: (1, reason) or (0, reason). Pure: everything it needs comes in.
sub verdict {
    my ($mode, $line, $busy, $now, $ready_max_age, $live_max_age) = @_;
    my $state = field($line, 'state');
    return (0, 'no status line yet') unless defined $state;
    my $ts = field($line, 'ts');
    my $age = (defined $ts && $ts =~ /^\d+$/) ? $now - $ts : 1e9;
    if ($mode eq 'live') {
        return (1, 'busy: ' . $busy) if defined $busy;
        return (1, "state $state: the entrypoint is deciding") unless $SERVING{$state};
        return (1, "state $state, refreshed ${age}s ago") if $age <= $live_max_age;
        return (0, "state $state not refreshed for ${age}s (limit ${live_max_age}s): postgres, Pgpool-II or the supervisor is wedged");
    }
    return (0, "state $state") unless $SERVING{$state};
    return (0, "state $state, but not refreshed for ${age}s (limit ${ready_max_age}s)") if $age > $ready_max_age;
    if ($mode eq 'ready' && $state eq 'standby' && (field($line, 'streaming') // '0') ne '1') {
        return (0, 'standby is not streaming');
    }
    return (1, "state $state");
}

sub slurp {
    my ($file) = @_;
    open(my $f, '<', $file) or return undef;
    local $/;
    my $d = <$f>;
    close $f;
    return $d;
}

sub listen_on {
    my ($port) = @_;
    require IO::Socket::IP;
    return IO::Socket::IP->new(LocalHost => '::', LocalPort => $port, Listen => 64, ReuseAddr => 1, V6Only => 0)
        || IO::Socket::IP->new(LocalHost => '0.0.0.0', LocalPort => $port, Listen => 64, ReuseAddr => 1)
        || die "status-server: cannot listen on $port: $@\n";
}

# One HTTP request on $c: the request line, answered with the verdict. A client that sends
# nothing within 2 s is dropped (the kubelet sends at once).
sub answer_http {
    my ($c, $status_file, $busy_file, $ready_max_age, $live_max_age) = @_;
    my $request = '';
    my $rin = '';
    vec($rin, fileno($c), 1) = 1;
    my $deadline = time + 2;
    while ($request !~ /\r?\n\r?\n/ && time <= $deadline) {
        my $r = select(my $rout = $rin, undef, undef, 0.5);
        next unless $r > 0;
        my $n = sysread($c, $request, 4096, length $request);
        last unless $n;
    }
    my ($path) = $request =~ m{^GET\s+/(\w+)};
    my ($code, $body);
    if (defined $path && $path =~ /^(startup|ready|live)$/) {
        my $line = slurp($status_file);
        my $busy = -e $busy_file ? (slurp($busy_file) // '') : undef;
        chomp $busy if defined $busy;
        my ($ok, $why) = verdict($path, $line, $busy, time, $ready_max_age, $live_max_age);
        ($code, $body) = $ok ? ('200 OK', "ok: $why\n") : ('503 Service Unavailable', "$why\n");
    } else {
        ($code, $body) = ('404 Not Found', "GET /startup, /ready or /live\n");
    }
    syswrite($c, "HTTP/1.0 $code\r\nContent-Type: text/plain\r\nContent-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body");
}

sub main {
    my ($status_port, $health_port, $status_file, $busy_file, $ready_max_age, $live_max_age) = @ARGV;
    die "usage: status-server.pl STATUS_PORT HEALTH_PORT STATUS_FILE BUSY_FILE READY_MAX_AGE LIVE_MAX_AGE\n"
        unless defined $live_max_age;
    $SIG{PIPE} = 'IGNORE';
    my $status = $status_port ? listen_on($status_port) : undef;
    my $health = listen_on($health_port);
    my $rin = '';
    vec($rin, fileno($status), 1) = 1 if $status;
    vec($rin, fileno($health), 1) = 1;
    while (1) {
        my $n = select(my $rout = $rin, undef, undef, undef);
        next unless $n > 0;
        if ($status && vec($rout, fileno($status), 1)) {
            if (my $c = $status->accept) {
                my $d = slurp($status_file);
                syswrite($c, $d) if defined $d;
                close $c;
            }
        }
        if (vec($rout, fileno($health), 1)) {
            if (my $c = $health->accept) {
                answer_http($c, $status_file, $busy_file, $ready_max_age, $live_max_age);
                close $c;
            }
        }
    }
}

main() unless caller;
1;
