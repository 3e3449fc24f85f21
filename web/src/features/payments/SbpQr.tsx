/** A QR code of the SBP link, drawn in the browser (uqr: MIT, no dependencies) as one SVG
 * path: no image from elsewhere, no inline style. Its own chunk, loaded only when shown. */
import { encode } from "uqr";
import { useMemo } from "preact/hooks";

/** The dark modules as an SVG path, one unit square each (pure, tested). */
export function qrPath(data: boolean[][]): string {
  let d = "";
  data.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (dark) d += `M${x} ${y}h1v1h-1z`;
    }),
  );
  return d;
}

export default function SbpQr({ url, label, id = "sbp-qr" }: { url: string; label: string; id?: string }) {
  const qr = useMemo(() => encode(url, { ecc: "M", border: 2 }), [url]);
  return (
    <svg
      id={id}
      class="qr"
      viewBox={`0 0 ${qr.size} ${qr.size}`}
      width="232"
      height="232"
      role="img"
      aria-label={label}
      data-size={String(qr.size)}
      shape-rendering="crispEdges"
    >
      <rect width={qr.size} height={qr.size} fill="#fff" />
      <path d={qrPath(qr.data)} fill="#000" />
    </svg>
  );
}
