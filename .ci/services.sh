# Sourced by .ci/run: make sure the external engines the integration suites
# need are running, starting (or, on a fresh machine, installing) them when
# absent. Each ensure_* returns non-zero if the engine cannot be had.

apt_install() {
  if [ -z "${APT_UPDATED:-}" ]; then
    apt-get update -qq && APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

wait_for() { # wait_for SECONDS COMMAND...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.5
  done
}

ensure_postgres() {
  pg_up() { pg_isready -q -h 127.0.0.1 -p 5432; }
  command -v pg_isready >/dev/null 2>&1 || apt_install postgresql postgresql-client || return 1
  pg_up && return 0
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
  [ -n "$version" ] || return 1
  # A fresh cluster only trusts local socket peers; these tests connect over
  # loopback as postgres without a password.
  local hba="/etc/postgresql/$version/main/pg_hba.conf"
  if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for 30 pg_up
}

ensure_mariadb() {
  my_up() { mysqladmin -uroot -h127.0.0.1 --connect-timeout=2 ping; }
  command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || apt_install mariadb-server mariadb-client || return 1
  my_up && return 0
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql || true
  wait_for 30 mysqladmin -uroot --connect-timeout=2 ping || return 1
  # Fresh installs authenticate root by socket only; these tests connect
  # over loopback as root without a password.
  my_up || mysql -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(''); FLUSH PRIVILEGES;" || true
  wait_for 10 my_up
}

# The cluster suites start private redis-server processes (so that they can
# kill and restart them); they only need the binary.
ensure_redis() {
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server || return 1
  command -v redis-server >/dev/null 2>&1
}

# The failover suite runs its own nginx (with the shipped config) and needs
# the stream module, which Debian ships separately.
ensure_nginx() {
  command -v nginx >/dev/null 2>&1 || apt_install nginx-light || apt_install nginx || return 1
  if nginx -V 2>&1 | grep -q -- '--with-stream=dynamic' && [ ! -e /usr/lib/nginx/modules/ngx_stream_module.so ]; then
    apt_install libnginx-mod-stream || return 1
  fi
  command -v nginx >/dev/null 2>&1
}

# require NAME: run ensure_NAME; under CI=true a missing engine fails the run
# instead of skipping its suites.
require() {
  if "ensure_$1"; then
    echo "$1: up"
    return 0
  fi
  if [ "${CI:-}" = "true" ]; then
    echo "FATAL: $1 is not available and CI=true: refusing to skip its tests" >&2
    exit 1
  fi
  echo "WARNING: $1 is not available; skipping its suites (not allowed under CI=true)" >&2
  return 1
}
