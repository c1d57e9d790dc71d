#!/usr/bin/perl
# deploy/kubernetes/: the manifests are YAML (CPAN::Meta::YAML, in perl's
# core: a YAML subset, block style) with what kairosd needs on a node:
# privileged, host PID, the host's cgroup/bpf/kairos/run mounts, its config
# from the ConfigMap. The checks are run on a broken copy too, which must
# fail, so they cannot pass vacuously. (config_file_test parses the toml
# the ConfigMap carries.)
use strict;
use warnings;
use CPAN::Meta::YAML;

my $dir = shift or die "usage: $0 DEPLOY_KUBERNETES_DIR\n";

sub load {
	my ($path) = @_;
	open(my $fh, '<', $path) or die "$path: $!\n";
	local $/;
	my $text = <$fh>;
	my $docs = eval { CPAN::Meta::YAML->read_string($text) };
	die "$path: not YAML: $@\n" unless $docs && @$docs == 1;
	return $docs->[0];
}

# The problems of a DaemonSet + ConfigMap pair (empty: none).
sub problems {
	my ($ds, $cm) = @_;
	my @p;
	push @p, "DaemonSet: apiVersion/kind" unless ($ds->{apiVersion} // '') eq 'apps/v1' && ($ds->{kind} // '') eq 'DaemonSet';
	push @p, "ConfigMap: apiVersion/kind" unless ($cm->{apiVersion} // '') eq 'v1' && ($cm->{kind} // '') eq 'ConfigMap';
	my $toml = $cm->{data}{'kairosd.toml'} // '';
	push @p, "ConfigMap: no data.kairosd.toml" unless $toml =~ /\[kubernetes\]/;
	my $tpl = $ds->{spec}{template} // {};
	my $sel = $ds->{spec}{selector}{matchLabels} // {};
	push @p, "selector: empty" unless %$sel;
	for (keys %$sel) {
		push @p, "selector label $_ not on the pod template"
			unless ($tpl->{metadata}{labels}{$_} // '') eq $sel->{$_};
	}
	my $spec = $tpl->{spec} // {};
	push @p, "hostPID is not true" unless ($spec->{hostPID} // '') eq 'true';
	my @c = @{ $spec->{containers} // [] };
	push @p, "not one container" unless @c == 1;
	my $k = $c[0] // {};
	push @p, "not privileged" unless ($k->{securityContext}{privileged} // '') eq 'true';
	my $cmd = join(' ', @{ $k->{command} // [] });
	push @p, "command does not run kairosd --config /etc/kairos/kairosd.toml"
		unless $cmd =~ /\bkairosd --config \/etc\/kairos\/kairosd\.toml$/;
	my %vol = map { $_->{name} => $_ } @{ $spec->{volumes} // [] };
	my %mount = map { $_->{mountPath} => $_ } @{ $k->{volumeMounts} // [] };
	for my $m (values %mount) {
		push @p, "mount $m->{mountPath}: no volume $m->{name}" unless $vol{ $m->{name} };
	}
	for my $path ('/sys/fs/cgroup', '/sys/fs/bpf', '/dev/kairos', '/run/kairos') {
		my $m = $mount{$path};
		my $v = $m ? $vol{ $m->{name} } : undef;
		push @p, "$path: not the host's (hostPath) at the same place"
			unless $v && ($v->{hostPath}{path} // '') eq $path;
	}
	my $cfg = $mount{'/etc/kairos'};
	my $cv = $cfg ? $vol{ $cfg->{name} } : undef;
	push @p, "/etc/kairos: not the ConfigMap"
		unless $cv && ($cv->{configMap}{name} // '') eq ($cm->{metadata}{name} // '?');
	push @p, "namespaces differ"
		unless ($ds->{metadata}{namespace} // '') eq ($cm->{metadata}{namespace} // '');
	return @p;
}

my $ds = load("$dir/daemonset.yaml");
my $cm = load("$dir/configmap.yaml");
my @p = problems($ds, $cm);
print "FAIL: $_\n" for @p;

# A copy without host PID and the bpffs mount must be refused.
delete $ds->{spec}{template}{spec}{hostPID};
$ds->{spec}{template}{spec}{containers}[0]{volumeMounts} =
	[ grep { $_->{mountPath} ne '/sys/fs/bpf' } @{ $ds->{spec}{template}{spec}{containers}[0]{volumeMounts} } ];
my @broken = problems($ds, $cm);
unless (grep(/hostPID/, @broken) && grep(/sys\/fs\/bpf/, @broken)) {
	print "FAIL: the checks let a broken DaemonSet through\n";
	push @p, 'vacuous';
}
exit(@p ? 1 : 0) if @p;
print "ok: daemonset.yaml and configmap.yaml\n";
exit 0;
