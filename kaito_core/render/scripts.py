"""The shell scripts of the tuning Job's helper containers: data downloader, puller, pusher.

Pure: no I/O, no clock, no logging (these are strings; the containers run them).

None of them has a user string spliced into its text: the downloader reads ``$DATA_URLS`` and
``$DATA_VOLUME_PATH`` from its environment (with globbing off), the puller and the pusher take
theirs as positional arguments (``sh -c SCRIPT name ARGS``), always double-quoted when expanded.
"""

from __future__ import annotations

__all__ = ["DOWNLOADER_SCRIPT", "PULLER_SCRIPT", "PUSHER_SCRIPT"]

#: Upstream's ``data-downloader.sh``, hardened: every URL of $DATA_URLS (space-separated, as
#: upstream passes them) is fetched with ``curl -sSL --proto =http,https -w "%{http_code}"`` into
#: $DATA_VOLUME_PATH/<basename without ?query/#fragment>, and counts as downloaded only when curl
#: exits 0, the final HTTP status is 200 and the file is not empty; three attempts, two seconds
#: apart. Beyond upstream: ``set -f`` (a ``*`` in a URL is never a glob), redirects limited to
#: http(s) too, ``--`` before the URL, and a file name of ``.``/``..``/nothing replaced.
DOWNLOADER_SCRIPT = """\
set -f
[ -n "${DATA_URLS:-}" ] || { echo "No URLs provided in DATA_URLS." >&2; exit 1; }
mkdir -p "$DATA_VOLUME_PATH" || exit 1
for url in $DATA_URLS; do
  name="$(basename "${url%%[?#]*}")"
  case "$name" in ""|.|..) name=data ;; esac
  file="$DATA_VOLUME_PATH/$name"
  echo "Downloading $url to $file"
  attempt=1
  while :; do
    status="$(curl -sSL --proto =http,https --proto-redir =http,https -w "%{http_code}" \\
      -o "$file" -- "$url")"
    code=$?
    if [ "$code" -eq 0 ] && [ "$status" = 200 ] && [ -s "$file" ]; then
      echo "Successfully downloaded $url"
      break
    fi
    echo "Failed to download $url, HTTP status code: $status, curl exit code: $code" >&2
    rm -f -- "$file"
    if [ "$attempt" -ge 3 ]; then
      echo "Failed to download $url after 3 attempts" >&2
      exit 1
    fi
    attempt=$((attempt + 1))
    sleep 2
  done
done
echo "All downloads completed successfully"
"""

#: $1 image, $2 directory: copies the image's /data into the directory, trying each auth file.
PULLER_SCRIPT = """\
set -eu
image="$1"; dest="$2"; work="$(mktemp -d)"; pulled=""
for auth in "" $(find "${HOME:-/root}/.docker/config.d" -type f 2>/dev/null | sort); do
  rm -rf "$work/image"
  if skopeo copy --dest-decompress ${auth:+--authfile=$auth} "docker://$image" "dir:$work/image"
  then pulled=1; break; fi
done
[ -n "$pulled" ] || { echo "could not pull $image" >&2; exit 1; }
mkdir -p "$work/rootfs"
for layer in $(skopeo inspect --format '{{range .Layers}}{{slice . 7}} {{end}}' "dir:$work/image")
do tar -xf "$work/image/$layer" -C "$work/rootfs"; done
cp -R "$work/rootfs/data/." "$dest/"
"""

#: $1 results directory, $2 image, $3 annotations JSON: waits for training to finish, then pushes
#: the adapter as a one-layer OCI image.
PUSHER_SCRIPT = """\
set -eu
results="$1"; image="$2"; annotations="$3"; work="$(mktemp -d)"
until [ -e "$results/fine_tuning_completed.txt" ]; do sleep 1; done
mkdir -p "$work/data"
cp "$results/adapter_config.json" "$results/adapter_model.safetensors" "$work/data/"
tar -cf "$work/layer.tar" -C "$work" data
diff_id="$(sha256sum "$work/layer.tar" | cut -d ' ' -f 1)"
gzip -9 "$work/layer.tar"
printf '{"rootfs":{"diff_ids":["sha256:%s"]}}' "$diff_id" > "$work/config.json"
printf '%s' "$annotations" > "$work/annotations.json"
cd "$work"
oras push --disable-path-validation --annotation-file annotations.json \\
  --config "config.json:application/vnd.oci.image.config.v1+json" --oci-layout layout:latest \\
  "layer.tar.gz:application/vnd.oci.image.layer.v1.tar+gzip"
oras cp --from-oci-layout layout:latest "$image"
"""
