/** How many colours default avatars come in (`.avatar.c0` … in styles.css). */
const COLOURS = 8;

/** Up to two initials: of the first and last words of a name ("Alice Liddell" → "AL"), else its first letter. */
export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter((w) => /\p{L}|\p{N}/u.test(w));
  if (!words.length) return '?';
  const first = (w: string) => [...w][0]!.toUpperCase();
  return words.length === 1 ? first(words[0]!) : first(words[0]!) + first(words.at(-1)!);
}

/** The same colour for an account wherever it shows, picked by its id (a class, as the page's CSP allows no inline style). */
function colourOf(account: string): number {
  let h = 0;
  for (const c of account) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h % COLOURS;
}

/** Someone without a picture: their initials on their colour. */
export function DefaultAvatar({ account, name }: { account: string; name?: string }) {
  return (
    <span className={`avatar initials c${colourOf(account)}`} aria-hidden="true">
      {name ? initials(name) : ''}
    </span>
  );
}
