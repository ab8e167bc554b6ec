/**
 * Design tokens: what an id, a class or a click label is when it names a
 * piece of the page and not a person.
 *
 * A page's ids and classes are written by its developers ("btn-primary",
 * "product-card__title", "col-12", "add-to-cart"), but templates also put
 * data into them ("user-zelda-quixote", "order-88412", "wishlist-jane").
 * Nothing in the characters tells "zelda" from "buy", so the rule is a
 * vocabulary: a name is a design token when every word in it (split on '-',
 * '_', and camelCase) is a word of user-interface or shop vocabulary below,
 * a number of at most three digits, or one or two letters (the spacing and
 * size abbreviations of utility CSS: mt, px, lg, sm). Anything else is kept
 * only when the site allows it by name (SITES `selectors` / `labels`).
 *
 * Words are English UI and e-commerce terms; a shop with other names
 * configures them per site. Plain lookups, no regex: linear in the name.
 */

const WORDS =
  // layout and structure
  'app page site main body header footer nav navbar sidebar aside section article content container wrapper wrap inner outer layout ' +
  'grid row rows col cols column columns cell flex box block region area panel pane card cards tile tiles list lists item items ' +
  'group stack split half full left right center centre middle top bottom start end first last prev previous next back front ' +
  'hero banner teaser promo promotion strip bar toolbar pic pics topbar bottombar breadcrumb breadcrumbs crumb crumbs tabs tab ' +
  'menu submenu dropdown drop down up popover popup modal dialog drawer overlay sheet toast tooltip tip alert notice notification ' +
  'badge pill chip tag tags label labels title subtitle heading headline caption text copy lead intro summary detail details ' +
  'description desc body footnote note meta info help hint legend figure image img picture photo thumb thumbnail icon icons logo ' +
  'brand media video gallery carousel slider slide slides swiper track dots dot arrow arrows play pause player ' +
  'link links button buttons btn cta action actions control controls toggle switch handle close open show hide more less expand ' +
  'collapse accordion spinner loader loading skeleton placeholder divider separator spacer line border shadow ' +
  // forms
  'form forms field fields fieldset input inputs select option options checkbox radio textarea search searchbar query submit ' +
  'reset clear cancel confirm ok apply save edit delete remove add update send login logout signin signup register ' +
  'email mail phone tel name firstname lastname fullname address street city zip postcode postal country region state ' +
  'password remember newsletter subscribe unsubscribe consent terms privacy policy cookie cookies accept decline agree ' +
  'error errors valid invalid required optional success warning danger message messages feedback ' +
  // shop
  'shop store home index product products catalog catalogue category categories collection collections range series ' +
  'brand brands model models variant variants size sizes color colour colors colours swatch swatches qty quantity amount ' +
  'price prices sale offer offers deal deals discount voucher coupon code codes gift gifts bundle pack kit set ' +
  'cart basket bag checkout payment pay buy order orders shipping delivery ship pickup return returns refund invoice ' +
  'stock availability available unavailable sold soldout instock new old featured popular bestseller bestsellers top trending ' +
  'recommended related similar recent recently viewed compare wishlist favourite favorite favourites favorites like likes ' +
  'rating ratings review reviews star stars spec specs specification specifications feature features tech ' +
  'account profile user users member login dashboard settings preferences orders history subscription plan plans ' +
  'filter filters sort sorting facet facets pagination pager results result count total subtotal tax fee fees ' +
  'charger chargers cable cables adapter adapters hub hubs dock docks power bank banks battery usb speaker speakerphone ' +
  'headset headphones microphone mic lanyard lanyards conference accessory accessories charging wireless fast ' +
  'help support faq contact about blog news press careers legal imprint store stores locator place go view views lines line ' +
  'analytics tracking track consent thanks thank welcome secret step steps progress ' +
  // states, sizes, colours, themes
  'active inactive current selected disabled enabled checked focus focused hover visible hidden sticky fixed static absolute ' +
  'relative primary secondary tertiary default muted light dark inverse outline outlined solid ghost flat raised rounded round ' +
  'square circle small medium large xs xl xxl mini tiny huge wide narrow tall short compact dense loose mobile tablet desktop ' +
  'print screen only responsive auto none block inline hidden visible sr js no is has with without of on off in out to for ' +
  'and or the a all any each per by at from via red orange yellow green teal cyan blue indigo purple violet pink rose gray grey ' +
  'black white slate zinc neutral stone amber lime emerald sky fuchsia gold silver bg fg font weight bold italic underline ' +
  'upper lower case align justify between around evenly gap space spacing margin padding width height min max overflow scroll ' +
  'opacity z index order shrink grow basis wrap nowrap truncate ellipsis transition animate animation fade zoom rotate scale ' +
  'theme themes style styles variant primary accent surface level elevation container fluid responsive breakpoint ' +
  // frameworks' own prefixes
  'ui ux mat mdc mui chakra ant el v ng vue react svelte wp woocommerce shopify magento swiper glide splide slick owl ' +
  'js jsx css scss tw bs ' +
  // icon sets (fa-shopping-cart, bi-heart, glyphicon-search, material-icons) and what their icons show
  'fa fas far fab fal bi glyphicon material icofont ion ionicons feather lucide heroicons symbol symbols outlined sharp ' +
  'shopping heart hearts retweet eye bars times xmark plus minus check chevron caret angle angles arrows bell envelope ' +
  'globe home house magnifying glass trash pen pencil gear cog share comment comments thumbs lock unlock sign bolt truck ' +
  'tag tags bookmark phone map marker location pin calendar clock camera image images file download upload print ' +
  'facebook twitter instagram youtube linkedin pinterest tiktok whatsapp github google apple ' +
  // checkout fields (the names of form controls follow the label rule)
  'billing given family surname company street line1 line2 apartment suite house province county district postcode zipcode ' +
  'card cvc cvv expiry exp holder month year day birth birthday gender salutation title notes comment quantity coupon';

const VOCABULARY: ReadonlySet<string> = new Set(WORDS.split(/\s+/).filter(Boolean));

/** The words of a name: split on '-', '_', '.', and lower→upper case changes; lowercased. */
export function nameWords(name: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < name.length; i++) {
    const ch = name[i]!;
    if (ch === '-' || ch === '_' || ch === '.') {
      if (cur) out.push(cur.toLowerCase());
      cur = '';
      continue;
    }
    const prev = name.charCodeAt(i - 1);
    const c = name.charCodeAt(i);
    if (cur && c >= 65 && c <= 90 && prev >= 97 && prev <= 122) {
      out.push(cur.toLowerCase());
      cur = '';
    }
    cur += ch;
  }
  if (cur) out.push(cur.toLowerCase());
  return out;
}

function tokenWord(w: string): boolean {
  if (VOCABULARY.has(w)) return true;
  // A number of at most three digits (col-12, w-100), or one or two letters (mt, px, lg).
  if (/^\d{1,3}$/.test(w)) return true;
  if (/^[a-z]{1,2}$/.test(w)) return true;
  // A number with a CSS unit or a scale suffix (2xl, 10px, 50vh).
  return /^\d{1,3}(?:x|xs|xl|px|vh|vw|em|rem|k|w)$/.test(w);
}

/**
 * Words that name a passing state of an element rather than the element:
 * scripts add and remove them (`active`, `show`, `owl-loaded`,
 * `swiper-slide-active`, `is-open`), so one element would be counted under
 * several selectors.
 */
const STATE_WORDS: ReadonlySet<string> = new Set(
  ('active inactive current selected disabled enabled checked unchecked open opened closed show shown showing hidden visible ' +
    'invisible collapsed collapsing expanded focus focused hover hovered loaded loading initialized initialised ready animated ' +
    'animating sticky stuck pressed touched untouched dirty pristine valid invalid pending playing paused muted').split(' '),
);

/**
 * True when a class names a state: its last word is a state word (not when
 * that word is a BEM element, `card__hover`: a part, not a state), it starts
 * with is- or has-, or it is `in` (Bootstrap 3's shown).
 */
export function stateName(name: string): boolean {
  const words = nameWords(name);
  const first = words[0];
  const last = words[words.length - 1] ?? '';
  const element = name.endsWith(`__${last}`) || name.toLowerCase().endsWith(`__${last}`);
  return name === 'in' || first === 'is' || first === 'has' || (STATE_WORDS.has(last) && !element);
}

/** True when an id, class or label names a piece of the page: every word is a design-vocabulary word. */
export function designToken(name: string): boolean {
  const words = nameWords(name);
  if (words.length === 0 || words.length > 8) return false;
  for (const w of words) if (!tokenWord(w)) return false;
  return true;
}
