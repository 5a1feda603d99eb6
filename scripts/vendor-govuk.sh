#!/usr/bin/env bash
# Vendors GOV.UK Frontend's built stylesheet, and the fonts and images it references, into
# web/static/govuk/ from the npm package govuk-frontend at a pinned version, checked against its
# pinned sha512. The web server embeds that folder; no build step and no JavaScript.
#
#   scripts/vendor-govuk.sh                       # the pinned version, as committed
#   scripts/vendor-govuk.sh --non-govuk-domain    # without the GDS Transport fonts and the crest
#   GOVUK_FRONTEND_VERSION=6.7.0 GOVUK_FRONTEND_INTEGRITY=sha512-… scripts/vendor-govuk.sh
#       # an upgrade: `npm view govuk-frontend@6.7.0 dist.integrity` prints the integrity;
#       # then update the pins below
#
# What lands in web/static/govuk/:
#   govuk-frontend.min.css   dist/govuk/govuk-frontend.min.css, byte for byte (with
#                            --non-govuk-domain: less its @font-face rules, see below)
#   assets/fonts/*.woff2     the fonts its @font-face rules name (woff2 only: each rule lists
#                            woff2 first, so only browsers without woff2 would want the .woff)
#   assets/images/*          the images its url()s name (the footer crest)
#   LICENSE                  MIT (the npm package has no licence file; see below)
#   VERSION                  the version, one line
#
# The stylesheet asks for its fonts and images by absolute path, /assets/fonts/… and
# /assets/images/…: the server must answer those from web/static/govuk/assets/.
#
# GDS Transport (the fonts) is marked in the stylesheet "customised for exclusive use on
# gov.uk", and the crest is Crown artwork: the GOV.UK Design System says both are for services
# on the GOV.UK domain. --non-govuk-domain leaves them out, and takes the stylesheet's
# @font-face rules out with them: its font stack, "GDS Transport", arial, sans-serif, then falls
# back to Arial without the browser ever asking for a font file that is not there.
set -euo pipefail
cd "$(dirname "$0")/.."

version=${GOVUK_FRONTEND_VERSION:-6.6.0}
integrity=${GOVUK_FRONTEND_INTEGRITY:-sha512-xctkWrQvLnvQt7fyjQ3MGX9S0wz0x0RQuLxCeoXF+s8EjGICG81/DYQGKN5qgO+0KVT12UAaRwUsGY6fulRcRg==}
brand=yes
case "${1:-}" in
  "") ;;
  --non-govuk-domain) brand=no ;;
  *) echo "usage: $0 [--non-govuk-domain]" >&2; exit 2 ;;
esac
dest=web/static/govuk

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "govuk-frontend@$version" --silent >/dev/null)
tgz="$tmp/govuk-frontend-$version.tgz"
got=$(node -e 'const c=require("crypto"),fs=require("fs");
  console.log("sha512-"+c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"))' "$tgz")
if [ "$got" != "$integrity" ]; then
  echo "vendor-govuk: govuk-frontend-$version.tgz has $got, want $integrity" >&2
  exit 1
fi
tar -xzf "$tgz" -C "$tmp"
pkg="$tmp/package"
dist="$pkg/dist/govuk"
css="$dist/govuk-frontend.min.css"
grep -q 'released under the MIT License' "$pkg/README.md" ||
  { echo "vendor-govuk: the package README no longer says MIT: check the licence" >&2; exit 1; }

# Every @font-face must offer woff2, or leaving out the .woff files would lose a font.
faces=$(grep -o '@font-face' "$css" | wc -l)
woff2=$(grep -o '@font-face{[^}]*format("woff2")' "$css" | wc -l)
if [ "$faces" != "$woff2" ]; then
  echo "vendor-govuk: $faces @font-face rules but $woff2 offer woff2: vendor the .woff files too" >&2
  exit 1
fi

rm -rf "$dest"
mkdir -p "$dest"
cp "$css" "$dest/"
if [ "$brand" = no ]; then
  sed -E -i 's/@font-face\{[^}]*\}//g' "$dest/govuk-frontend.min.css"
  if grep -q -e '@font-face' -e '/assets/fonts/' "$dest/govuk-frontend.min.css"; then
    echo "vendor-govuk: could not take the @font-face rules out of the stylesheet" >&2
    exit 1
  fi
  css="$dest/govuk-frontend.min.css"   # the url()s below are the ones left
fi
# Copy what the stylesheet's url()s name, each from dist/govuk/assets/ to the same place under
# $dest/assets/. A url outside /assets/ (or one not in the package) stops the script.
grep -o 'url([^)]*)' "$css" | sed -e 's/^url(//' -e 's/)$//' -e 's/^["'\'']//' -e 's/["'\'']$//' | sort -u |
while read -r url; do
  case "$url" in
    data:*) continue ;;
    /assets/fonts/*.woff) continue ;;
    /assets/fonts/* | /assets/images/govuk-crest.svg) [ "$brand" = yes ] || continue ;;
    /assets/*) ;;
    *) echo "vendor-govuk: unexpected url($url) in the stylesheet" >&2; exit 1 ;;
  esac
  rel=${url#/assets/}
  [ -f "$dist/assets/$rel" ] || { echo "vendor-govuk: the stylesheet names $url, not in the package" >&2; exit 1; }
  mkdir -p "$dest/assets/$(dirname "$rel")"
  cp "$dist/assets/$rel" "$dest/assets/$rel"
  chmod 644 "$dest/assets/$rel"
done

echo "$version" >"$dest/VERSION"
# The licence of alphagov/govuk-frontend (its LICENSE.txt), which the npm package does not carry;
# its README says the code is released under the MIT License.
cat >"$dest/LICENSE" <<'EOF'
The MIT License (MIT)

Copyright (C) 2017 Crown Copyright (Government Digital Service)

Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
EOF

echo "vendor-govuk: govuk-frontend $version into $dest ($(du -sb "$dest" | cut -f1) bytes):"
(cd "$dest" && find . -type f | sort | sed 's/^\.\//  /')
