#!/usr/bin/perl
# dmarc_ref.pl - the DMARC reference for the differential test: Debian's Mail::DMARC
# (libmail-dmarc-perl, Mail::DMARC::PurePerl) as one long-running process.
#
#   perl dmarc_ref.pl <nameserver-port>     (nameserver 127.0.0.1)
#
# Reads one JSON object per line:
#   {"id": N, "from": "example.com",
#    "spf":  [{"domain": "...", "scope": "mfrom"|"helo", "result": "pass"}],
#    "dkim": [{"domain": "...", "selector": "...", "result": "pass"}]}
# and answers one JSON object per line:
#   {"id": N, "result": "pass"|"fail"|"none", "p": .., "sp": .., "np": .., "subdomain": 0|1,
#    "policy_domain": .., "reason": .., "error": ..}
# The resolver is Net::DNS pointed at the test NSD; the Public Suffix List comes from
# the config file named by MAIL_DMARC_CONFIG_FILE (the runner points it at Debian's
# publicsuffix package, the list senderauthd reads too).
use strict;
use warnings;
use JSON::PP;
use Net::DNS::Resolver;
use Mail::DMARC::PurePerl;

my $port = shift @ARGV or die "usage: dmarc_ref.pl PORT\n";
my $res = Net::DNS::Resolver->new(nameservers => ['127.0.0.1'], port => $port,
                                  recurse => 0, dnsrch => 0, defnames => 0,
                                  udp_timeout => 3, tcp_timeout => 3, retry => 2);
my $json = JSON::PP->new->canonical(1);
$| = 1;

while (my $line = <STDIN>) {
    chomp $line;
    next if $line eq '';
    my $in = $json->decode($line);
    my %out = (id => $in->{id});
    eval {
        my $d = Mail::DMARC::PurePerl->new;
        $d->set_resolver($res);
        $d->header_from($in->{from});
        $d->spf($in->{spf});
        $d->dkim($in->{dkim});
        my $r = $d->validate;
        $out{result} = $r->result;
        my $reasons = $r->reason;
        if ($reasons && ref $reasons eq 'ARRAY' && @$reasons) {
            $out{reason} = join(', ', map { $_->comment // $_->type // '' } @$reasons);
        }
        my $pol = eval { $r->published };
        if ($pol) {
            $out{p} = $pol->p;
            $out{sp} = $pol->sp;
            $out{np} = $pol->{np};    # parsed and kept, not used: RFC 7489 has no np
            $out{policy_domain} = $pol->domain;
        }
        $out{subdomain} = $d->is_subdomain ? 1 : 0;
        1;
    } or do {
        my $e = $@ || 'unknown error';
        $e =~ s/\s+at \S+ line \d+.*//s;
        $out{error} = $e;
    };
    print $json->encode(\%out), "\n";
}
