//! Marketplace benchmark: listing search with filters over a store of
//! 100,000 listings, and trade state lookups for a seller with 10,000 trades
//! (the issue: "Search over 100,000 listings with filters: p99. Trade state
//! lookup for a seller with 10,000 trades: p99.").
//!
//! ```text
//! cargo bench -p kith-storage --bench market                                  # 100,000 listings
//! KITH_BENCH_LISTINGS=20000 KITH_BENCH_TRADES=2000 \
//!     cargo bench -p kith-storage --bench market                              # a quick run
//! ```
//!
//! Environment (all optional):
//!
//! | variable | default | what |
//! |---|---|---|
//! | `KITH_BENCH_LISTINGS` | 100000 | listings generated (2,000 sellers) |
//! | `KITH_BENCH_TRADES` | 10000 | trades of the one trading seller |
//! | `KITH_BENCH_SAMPLES` | 2000 | search queries (the mix), and samples per trade query type |
//! | `KITH_BENCH_WALKS` | 10 | walks through all the seller's trades, per page size |
//! | `KITH_BENCH_INGEST_CHUNK` | 4096 | events per `Store::ingest_blocking` call |
//! | `KITH_BENCH_INDEX_TIMEOUT_S` | 300 | longest wait for the search index to catch up |
//! | `KITH_BENCH_DEADLINE_S` | 900 | the whole run gives up (exit code 2) after this |
//! | `KITH_BENCH_DIR` | system temp dir | where the temporary store is created |
//!
//! What it does:
//!
//! 1. **Listings.** 2,000 sellers (Zipf-skewed activity), each in one of 37
//!    cities whose 3-character geohash cell is the seller's region, with a
//!    currency (EUR about 70 %, MXN, ARS, USD, JPY) and a language (Spanish
//!    or English). Titles and descriptions come from small word lists (the
//!    nouns belong to the category's branch of `CATEGORIES`), categories are
//!    mostly children, prices 100–500,000 minor units (log-uniform),
//!    quantity 1–5, geohashes of 5–6 characters inside the region. Then 5 %
//!    of the listings are edited (a lower price, sold out, or withdrawn).
//!    Signed on 2 threads, ingested from 2 threads (edits after the
//!    originals); reported: ingest time and the time until the search index
//!    has caught up.
//! 2. **Search.** A mix of `Store::search_listings` queries seeded from
//!    live listings (so a query has something to find): words (some folded,
//!    some with a typo); words + category; category + price range +
//!    currency sorted by price; near (geohash prefix of 3–4) + in stock;
//!    newest in a category; one seller's listings. p50/p99/max per type and
//!    overall, with the mean number of hits and how many came back empty.
//! 3. **Trades.** One seller with 10 listings (enough stock for every
//!    trade), `KITH_BENCH_TRADES` orders from 500 buyers, moved on by the
//!    right party along realistic paths (accepted, paid, confirmed,
//!    shipped, delivered, completed with reviews; declined, cancelled,
//!    disputed), ingested in dependency order. Measured: `Reader::trade`
//!    (the state lookup), `Reader::trades_of` first page, a page at a random
//!    cursor, open trades, one state, a buyer's trades, `Reader::reputation`,
//!    and walking all trades with the cursor. The walk is also checked
//!    against the states the generator produced.
//!
//! Events are ingested as signed `Event`s (signature verification is the
//! store bench's concern, not this one's). Prints a table on stdout, and as
//! its last line one JSON object with every number. Consistency checks (all
//! events stored, non-empty searches, trade states, stock, reputation) are
//! reported under `problems` and make the run fail after printing.

#![allow(clippy::print_stdout)]

mod common;

use common::{Rng, Zipf, env_usize, load_average, outcome_name};

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kith_protocol::kinds::trade::CATEGORIES;
use kith_protocol::kinds::{
    Condition, DeliveryOption, Listing, Location, Order, Party, PaymentMethod, Price, Review,
    TradeState, TradeUpdate,
};
use kith_protocol::{Event, EventId, Keypair, Payload, PublicKey, Rel, UnsignedEvent};
use kith_storage::{
    Cursor, IngestOutcome, ListingQuery, ListingSort, SEARCH_DIR, STORE_DIR, Store, StoreConfig,
    TradeFilter,
};
use serde_json::{Value, json};

/// 2026-01-01T00:00:00Z.
const T0: u64 = 1_767_225_600_000;
const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
/// The clock given to `search_listings` (no generated listing expires).
const NOW: u64 = T0 + 365 * DAY;
const SELLERS: usize = 2_000;
const BUYERS: usize = 500;
/// Listings of the trading seller.
const TRADE_LISTINGS: usize = 10;
const PAGE: usize = 20;
/// Samples run and thrown away before each measured query type.
const WARM_UP: usize = 50;
/// Key index of the trading seller; the buyers follow it.
const TRADER: usize = SELLERS;

// ---------------------------------------------------------------- randomness

// ---------------------------------------------------------------- vocabulary

/// What is sold, by top-level category: Spanish and English nouns.
const NOUNS: &[(&str, &str, &str)] = &[
    (
        "home",
        "mesa silla sofá lámpara estantería colchón",
        "table chair sofa lamp bookcase mattress",
    ),
    (
        "electronics",
        "móvil portátil auriculares altavoz consola cámara",
        "phone laptop headphones speaker console camera",
    ),
    (
        "clothing",
        "chaqueta camiseta vestido zapatillas bolso abrigo",
        "jacket shirt dress sneakers handbag coat",
    ),
    (
        "kids",
        "juguete cochecito cuna peluche puzle triciclo",
        "toy pushchair cot teddy jigsaw tricycle",
    ),
    (
        "sports",
        "bicicleta raqueta balón mancuernas tienda casco",
        "bicycle racket football dumbbells tent helmet",
    ),
    (
        "books_media",
        "libro novela disco vinilo película cómic",
        "book novel album vinyl film comic",
    ),
    (
        "vehicles",
        "coche moto neumáticos furgoneta batería retrovisor",
        "car motorbike tyres van battery mirror",
    ),
    (
        "garden",
        "planta maceta manguera cortacésped semillas barbacoa",
        "plant planter hose lawnmower seeds barbecue",
    ),
    (
        "tools",
        "taladro martillo sierra llaves destornillador escalera",
        "drill hammer saw spanners screwdriver ladder",
    ),
    (
        "food",
        "miel pan mermelada tomates aceite queso",
        "honey bread jam tomatoes oil cheese",
    ),
    (
        "services",
        "clases reparación limpieza mudanza canguro traducción",
        "lessons repair cleaning removals babysitting translation",
    ),
    (
        "housing",
        "piso habitación estudio garaje chalet local",
        "flat room studio garage house shop",
    ),
    (
        "other",
        "caja colección lote regalo antigüedad sorpresa",
        "box collection bundle gift antique surprise",
    ),
];

/// Adjectives that agree with any Spanish noun.
const ADJ_ES: &[&str] = &[
    "grande",
    "azul",
    "verde",
    "gris",
    "marrón",
    "rosa",
    "impecable",
    "elegante",
    "enorme",
    "original",
    "vintage",
    "profesional",
    "urgente",
    "ideal",
    "útil",
    "regulable",
];
const ADJ_EN: &[&str] = &[
    "large",
    "blue",
    "green",
    "grey",
    "brown",
    "pink",
    "spotless",
    "elegant",
    "huge",
    "original",
    "vintage",
    "professional",
    "urgent",
    "ideal",
    "handy",
    "adjustable",
];
const BRANDS: &[&str] = &[
    "Ikea",
    "Samsung",
    "Sony",
    "Apple",
    "Nike",
    "Adidas",
    "Lego",
    "Bosch",
    "Philips",
    "Zara",
    "Decathlon",
    "Canon",
    "Nintendo",
    "Xiaomi",
    "Makita",
    "Levis",
];
const PHRASES_ES: &[&str] = &[
    "En muy buen estado",
    "Poco uso",
    "Como nuevo",
    "Funciona perfectamente",
    "Precio negociable",
    "Entrega en mano",
    "Envío a toda la península",
    "Con factura y garantía",
    "Sin arañazos ni golpes",
    "Se vende por mudanza",
    "Ideal para regalo",
    "Acepto ofertas razonables",
    "Recogida en el centro",
    "Solo interesados",
    "Muy cuidado",
    "Medidas en las fotos",
];
const PHRASES_EN: &[&str] = &[
    "In very good condition",
    "Barely used",
    "Like new",
    "Works perfectly",
    "Price negotiable",
    "Pickup in person",
    "Can ship nationwide",
    "With receipt and warranty",
    "No scratches or dents",
    "Selling because I am moving",
    "Great as a gift",
    "Reasonable offers accepted",
    "Collect from the city centre",
    "Serious buyers only",
    "Well looked after",
    "Measurements in the photos",
];
const NOTES: &[&str] = &[
    "Gracias, lo preparo hoy",
    "Te escribo para quedar",
    "Thanks, on its way soon",
    "Let me know when suits you",
];
const REVIEWS: &[&str] = &[
    "Todo perfecto, muy recomendable",
    "Vendedor muy amable",
    "Great seller, fast and friendly",
    "As described, thank you",
    "",
];

/// Cities (currency, name, latitude, longitude); the geohash cell of 3
/// characters around each is a region listings are placed in. Within a
/// currency, bigger cities first (they get more sellers).
const CITIES: &[(&str, &str, f64, f64)] = &[
    ("EUR", "Madrid", 40.42, -3.70),
    ("EUR", "Barcelona", 41.39, 2.17),
    ("EUR", "Valencia", 39.47, -0.38),
    ("EUR", "Sevilla", 37.39, -5.98),
    ("EUR", "Zaragoza", 41.65, -0.89),
    ("EUR", "Málaga", 36.72, -4.42),
    ("EUR", "Bilbao", 43.26, -2.93),
    ("EUR", "Murcia", 37.98, -1.13),
    ("EUR", "Palma", 39.57, 2.65),
    ("EUR", "Las Palmas", 28.12, -15.43),
    ("EUR", "Valladolid", 41.65, -4.72),
    ("EUR", "Vigo", 42.24, -8.72),
    ("EUR", "Granada", 37.18, -3.60),
    ("EUR", "A Coruña", 43.36, -8.41),
    ("EUR", "Alicante", 38.35, -0.48),
    ("EUR", "Lisboa", 38.72, -9.14),
    ("EUR", "Porto", 41.15, -8.61),
    ("EUR", "Paris", 48.86, 2.35),
    ("EUR", "Berlin", 52.52, 13.40),
    ("EUR", "Roma", 41.90, 12.50),
    ("MXN", "Ciudad de México", 19.43, -99.13),
    ("MXN", "Guadalajara", 20.66, -103.35),
    ("MXN", "Monterrey", 25.69, -100.32),
    ("MXN", "Puebla", 19.04, -98.21),
    ("MXN", "Mérida", 20.97, -89.62),
    ("ARS", "Buenos Aires", -34.60, -58.38),
    ("ARS", "Córdoba", -31.42, -64.18),
    ("ARS", "Rosario", -32.95, -60.64),
    ("ARS", "Mendoza", -32.89, -68.83),
    ("USD", "New York", 40.71, -74.01),
    ("USD", "Los Angeles", 34.05, -118.24),
    ("USD", "Miami", 25.76, -80.19),
    ("USD", "Houston", 29.76, -95.37),
    ("USD", "Chicago", 41.88, -87.63),
    ("JPY", "Tokyo", 35.68, 139.69),
    ("JPY", "Osaka", 34.69, 135.50),
    ("JPY", "Nagoya", 35.18, 136.91),
];

const GEOHASH: &[u8] = b"0123456789bcdefghjkmnpqrstuvwxyz";

fn geohash(lat: f64, lon: f64, len: usize) -> String {
    let (mut lat_lo, mut lat_hi) = (-90.0f64, 90.0f64);
    let (mut lon_lo, mut lon_hi) = (-180.0f64, 180.0f64);
    let mut out = String::with_capacity(len);
    let (mut bits, mut n, mut even) = (0usize, 0, true);
    while out.len() < len {
        if even {
            let mid = (lon_lo + lon_hi) / 2.0;
            bits <<= 1;
            if lon >= mid {
                bits |= 1;
                lon_lo = mid;
            } else {
                lon_hi = mid;
            }
        } else {
            let mid = (lat_lo + lat_hi) / 2.0;
            bits <<= 1;
            if lat >= mid {
                bits |= 1;
                lat_lo = mid;
            } else {
                lat_hi = mid;
            }
        }
        even = !even;
        n += 1;
        if n == 5 {
            out.push(char::from(GEOHASH[bits]));
            bits = 0;
            n = 0;
        }
    }
    out
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What people type for accented words.
fn fold(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'á' | 'à' | 'ä' | 'â' => 'a',
            'é' | 'è' | 'ë' | 'ê' => 'e',
            'í' | 'ì' | 'ï' | 'î' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' => 'o',
            'ú' | 'ù' | 'ü' | 'û' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            c => c,
        })
        .collect()
}

/// One letter (not the first) of a folded word of 5+ letters replaced: within
/// the edit distance the search allows for such a word.
fn typo(rng: &mut Rng, word: &str) -> Option<String> {
    let w = fold(word);
    if w.len() < 5 || !w.is_ascii() {
        return None;
    }
    let mut b = w.into_bytes();
    let at = 1 + rng.below(b.len() - 1);
    let old = b[at];
    b[at] = loop {
        let c = b'a' + rng.below(26) as u8;
        if c != old {
            break c;
        }
    };
    String::from_utf8(b).ok()
}

fn parent(category: &str) -> &str {
    category.split_once('/').map_or(category, |(p, _)| p)
}

// ---------------------------------------------------------------- keys and signing

fn key(n: usize) -> Keypair {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(n as u64).to_le_bytes());
    seed[31] = 0x3c;
    Keypair::from_seed(&seed).expect("a seed gives a usable key")
}

/// Signs on 2 threads; `(key index, event)`; the result keeps the order.
fn sign_all(items: Vec<(usize, UnsignedEvent)>, keys: &[Keypair]) -> Vec<Event> {
    let mut first = items;
    let second = first.split_off(first.len() / 2);
    let sign = |part: Vec<(usize, UnsignedEvent)>| -> Vec<Event> {
        part.into_iter()
            .map(|(k, u)| {
                u.sign(&keys[k])
                    .unwrap_or_else(|e| panic!("a generated event is invalid: {e:?}"))
            })
            .collect()
    };
    std::thread::scope(|s| {
        let h = s.spawn(|| sign(second));
        let mut out = sign(first);
        out.extend(h.join().expect("signing thread"));
        out
    })
}

// ---------------------------------------------------------------- listings

/// What the query generator knows of a listing.
struct ListingMeta {
    seller: usize,
    title: String,
    noun: &'static str,
    category: &'static str,
    currency: &'static str,
    price: u64,
    geohash: Option<String>,
    /// Not withdrawn.
    live: bool,
    /// Units left (not edited to sold out).
    stocked: bool,
}

struct Market {
    originals: Vec<Event>,
    edits: Vec<Event>,
    meta: Vec<ListingMeta>,
    edit_kinds: BTreeMap<&'static str, usize>,
    currencies: BTreeMap<&'static str, usize>,
    sellers_with_listings: usize,
    regions: usize,
    categories: usize,
    title_bytes: usize,
    description_bytes: usize,
    build_secs: f64,
    sign_secs: f64,
}

fn pick_currency(rng: &mut Rng) -> &'static str {
    match rng.below(100) {
        0..70 => "EUR",
        70..80 => "MXN",
        80..87 => "ARS",
        87..95 => "USD",
        _ => "JPY",
    }
}

fn generate_listings(n: usize, keys: &[Keypair]) -> Market {
    let started = Instant::now();
    let mut rng = Rng(0x6d61_726b_6574);
    let cells: Vec<String> = CITIES.iter().map(|c| geohash(c.2, c.3, 3)).collect();
    // Sellers: a currency, a city with that currency, a language.
    let groups: BTreeMap<&str, (Vec<usize>, Zipf)> = ["EUR", "MXN", "ARS", "USD", "JPY"]
        .into_iter()
        .map(|cur| {
            let cities: Vec<usize> = (0..CITIES.len()).filter(|i| CITIES[*i].0 == cur).collect();
            let zipf = Zipf::new(cities.len(), 0.8);
            (cur, (cities, zipf))
        })
        .collect();
    let sellers: Vec<(usize, bool)> = (0..SELLERS)
        .map(|_| {
            let cur = pick_currency(&mut rng);
            let (cities, zipf) = &groups[cur];
            let city = cities[zipf.sample(&mut rng)];
            let spanish = match cur {
                "EUR" => 0.75,
                "MXN" | "ARS" => 0.95,
                "USD" => 0.3,
                _ => 0.1,
            };
            (city, rng.chance(spanish))
        })
        .collect();
    let tops: Vec<&'static str> = CATEGORIES
        .iter()
        .map(|c| c.path)
        .filter(|p| !p.contains('/'))
        .collect();
    let children: Vec<Vec<&'static str>> = tops
        .iter()
        .map(|t| {
            CATEGORIES
                .iter()
                .map(|c| c.path)
                .filter(|p| p.split_once('/').is_some_and(|(a, _)| a == *t))
                .collect()
        })
        .collect();
    let nouns: Vec<(&'static str, Vec<&'static str>, Vec<&'static str>)> = NOUNS
        .iter()
        .map(|(top, es, en)| {
            (
                *top,
                es.split_whitespace().collect(),
                en.split_whitespace().collect(),
            )
        })
        .collect();
    let noun_table: Vec<usize> = tops
        .iter()
        .map(|t| {
            nouns
                .iter()
                .position(|n| n.0 == *t)
                .unwrap_or(nouns.len() - 1)
        })
        .collect();
    let top_zipf = Zipf::new(tops.len(), 0.5);
    let activity = Zipf::new(SELLERS, 0.6);

    let mut unsigned = Vec::with_capacity(n);
    let mut meta = Vec::with_capacity(n);
    let mut currencies: BTreeMap<&'static str, usize> = BTreeMap::new();
    let (mut title_bytes, mut description_bytes) = (0, 0);
    for i in 0..n {
        let seller = activity.sample(&mut rng);
        let (city, spanish) = sellers[seller];
        let (currency, city_name) = (CITIES[city].0, CITIES[city].1);
        let top = top_zipf.sample(&mut rng);
        let category = if children[top].is_empty() || rng.chance(0.15) {
            tops[top]
        } else {
            *rng.pick(&children[top])
        };
        // Mostly a noun of the category's branch, sometimes any.
        let table = if rng.chance(0.85) {
            &nouns[noun_table[top]]
        } else {
            rng.pick(&nouns)
        };
        let noun = *rng.pick(if spanish { &table.1 } else { &table.2 });
        let mut title = if spanish {
            format!("{} {}", capitalize(noun), rng.word(ADJ_ES))
        } else {
            format!("{} {noun}", capitalize(rng.word(ADJ_EN)))
        };
        if rng.chance(0.4) {
            title.push(' ');
            title.push_str(rng.word(BRANDS));
        }
        let phrases = if spanish { PHRASES_ES } else { PHRASES_EN };
        let mut description = String::new();
        for _ in 0..rng.range(2, 4) {
            description.push_str(rng.word(phrases));
            description.push_str(". ");
        }
        if rng.chance(0.5) {
            if spanish {
                description.push_str(&format!("Vendo {noun} {}. ", rng.word(ADJ_ES)));
            } else {
                description.push_str(&format!("Selling my {} {noun}. ", rng.word(ADJ_EN)));
            }
        }
        if rng.chance(0.5) {
            if spanish {
                description.push_str(&format!("Zona {city_name}."));
            } else {
                description.push_str(&format!("Located in {city_name}."));
            }
        }
        let description = description.trim_end().to_string();
        let mut amount = (100.0 * 5000f64.powf(rng.unit())) as u64;
        if amount >= 10_000 {
            amount = amount / 100 * 100;
        }
        let amount = amount.clamp(100, 500_000);
        let quantity = match rng.below(10) {
            0..6 => 1,
            6..8 => 2,
            8 => 3,
            _ => rng.range(4, 5) as u32,
        };
        let condition = match rng.below(100) {
            0..15 => Condition::New,
            15..45 => Condition::LikeNew,
            45..80 => Condition::Good,
            80..95 => Condition::Fair,
            _ => Condition::ForParts,
        };
        let delivery = match rng.below(10) {
            0..5 => vec![DeliveryOption::Pickup],
            5..9 => vec![DeliveryOption::Pickup, DeliveryOption::Shipping],
            _ => vec![DeliveryOption::Shipping],
        };
        let mut payment = Vec::new();
        if delivery.contains(&DeliveryOption::Pickup) {
            payment.push(PaymentMethod::CashOnPickup);
        }
        if rng.chance(0.5) {
            payment.push(PaymentMethod::BankTransfer);
        }
        if rng.chance(0.3) {
            payment.push(PaymentMethod::PaymentLink);
        }
        if rng.chance(0.1) {
            payment.push(PaymentMethod::Other);
        }
        if payment.is_empty() {
            payment.push(PaymentMethod::BankTransfer);
        }
        let geohash = rng.chance(0.95).then(|| {
            let mut g = cells[city].clone();
            for _ in 0..rng.range(2, 3) {
                g.push(char::from(*rng.pick(GEOHASH)));
            }
            g
        });
        let location = geohash.as_ref().map(|g| Location {
            text: city_name.to_string(),
            geohash: g.clone(),
        });
        *currencies.entry(currency).or_default() += 1;
        title_bytes += title.len();
        description_bytes += description.len();
        let created_at = T0 + i as u64 * 600 + rng.below(600) as u64;
        let listing = Listing {
            title: title.clone(),
            description,
            category: category.to_string(),
            price: Price {
                amount,
                currency: currency.to_string(),
            },
            quantity,
            condition,
            location,
            delivery,
            payment,
            media: Vec::new(),
            expires_at: None,
            withdrawn: false,
        };
        unsigned.push((
            seller,
            UnsignedEvent::new(keys[seller].public(), created_at, listing),
        ));
        meta.push(ListingMeta {
            seller,
            title,
            noun,
            category,
            currency,
            price: amount,
            geohash,
            live: true,
            stocked: true,
        });
    }
    let mut build_secs = started.elapsed().as_secs_f64();
    let t = Instant::now();
    let originals = sign_all(unsigned, keys);
    let mut sign_secs = t.elapsed().as_secs_f64();

    // Edits of 5 %: a lower price, sold out, or withdrawn.
    let t = Instant::now();
    let mut edits = Vec::new();
    let mut edit_kinds: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (i, original) in originals.iter().enumerate() {
        if !rng.chance(0.05) {
            continue;
        }
        let Payload::Listing(l) = original.payload() else {
            continue;
        };
        let mut l = l.clone();
        let m = &mut meta[i];
        let what = match rng.below(10) {
            0..6 => {
                l.price.amount = (l.price.amount * rng.range(70, 95) as u64 / 100).max(100);
                m.price = l.price.amount;
                "lower_price"
            }
            6..9 => {
                l.quantity = 0;
                m.stocked = false;
                "sold_out"
            }
            _ => {
                l.withdrawn = true;
                m.live = false;
                "withdrawn"
            }
        };
        *edit_kinds.entry(what).or_default() += 1;
        let at = original.created_at() + HOUR + rng.below(DAY as usize) as u64;
        edits.push((
            m.seller,
            UnsignedEvent::new(original.author(), at, l).ref_event(Rel::EditOf, original.id()),
        ));
    }
    build_secs += t.elapsed().as_secs_f64();
    let t = Instant::now();
    let edits = sign_all(edits, keys);
    sign_secs += t.elapsed().as_secs_f64();

    let regions = meta
        .iter()
        .filter_map(|m| m.geohash.as_deref().map(|g| &g[..3]))
        .collect::<BTreeSet<&str>>()
        .len();
    let categories = meta
        .iter()
        .map(|m| m.category)
        .collect::<BTreeSet<&str>>()
        .len();
    let sellers_with_listings = meta
        .iter()
        .map(|m| m.seller)
        .collect::<BTreeSet<usize>>()
        .len();
    Market {
        originals,
        edits,
        edit_kinds,
        currencies,
        sellers_with_listings,
        regions,
        categories,
        title_bytes,
        description_bytes,
        meta,
        build_secs,
        sign_secs,
    }
}

// ---------------------------------------------------------------- trades

/// How trades end: (weight in %, the steps after the order, by whom).
const PATHS: &[(usize, &[(TradeState, Party)])] = &[
    (13, &[]),
    (4, &[(TradeState::Declined, Party::Seller)]),
    (6, &[(TradeState::Cancelled, Party::Buyer)]),
    (15, &[(TradeState::Accepted, Party::Seller)]),
    (
        10,
        &[
            (TradeState::Accepted, Party::Seller),
            (TradeState::Paid, Party::Buyer),
        ],
    ),
    (
        5,
        &[
            (TradeState::Accepted, Party::Seller),
            (TradeState::Cancelled, Party::Buyer),
        ],
    ),
    (
        10,
        &[
            (TradeState::Accepted, Party::Seller),
            (TradeState::Paid, Party::Buyer),
            (TradeState::PaymentConfirmed, Party::Seller),
        ],
    ),
    (
        5,
        &[
            (TradeState::Accepted, Party::Seller),
            (TradeState::Paid, Party::Buyer),
            (TradeState::PaymentConfirmed, Party::Seller),
            (TradeState::Shipped, Party::Seller),
        ],
    ),
    (
        5,
        &[
            (TradeState::Accepted, Party::Seller),
            (TradeState::Paid, Party::Buyer),
            (TradeState::PaymentConfirmed, Party::Seller),
            (TradeState::Shipped, Party::Seller),
            (TradeState::Delivered, Party::Buyer),
        ],
    ),
    (
        25,
        &[
            (TradeState::Accepted, Party::Seller),
            (TradeState::Paid, Party::Buyer),
            (TradeState::PaymentConfirmed, Party::Seller),
            (TradeState::Shipped, Party::Seller),
            (TradeState::Delivered, Party::Buyer),
            (TradeState::Completed, Party::Buyer),
        ],
    ),
    (
        2,
        &[
            (TradeState::Accepted, Party::Seller),
            (TradeState::Paid, Party::Buyer),
            (TradeState::PaymentConfirmed, Party::Seller),
            (TradeState::Shipped, Party::Seller),
            (TradeState::Disputed, Party::Buyer),
        ],
    ),
];

struct Trades {
    seller: PublicKey,
    buyers: Vec<PublicKey>,
    listings: Vec<EventId>,
    quantity: u32,
    orders: Vec<EventId>,
    order_times: Vec<u64>,
    /// Final state name → trades, as generated.
    expected: BTreeMap<&'static str, usize>,
    /// Trades holding stock at the end (accepted and not cancelled).
    holding: usize,
    reviews_of_seller: u64,
    rating_sum: u64,
    /// In dependency order: listings, orders, each round of steps, reviews.
    events: Vec<Event>,
    /// Generating and signing.
    secs: f64,
}

fn generate_trades(n: usize, start: u64, keys: &[Keypair]) -> Trades {
    assert_eq!(
        PATHS.iter().map(|p| p.0).sum::<usize>(),
        100,
        "path weights are percentages"
    );
    for (_, path) in PATHS {
        let mut s = TradeState::Ordered;
        for &(to, by) in *path {
            s = s
                .transition(to, by)
                .expect("the bench's trade paths follow the state machine");
        }
    }
    let mut rng = Rng(0x7ade_2026);
    let seller = keys[TRADER].public();
    let buyer_key = |b: usize| TRADER + 1 + b;
    let buyers: Vec<PublicKey> = (0..BUYERS).map(|b| keys[buyer_key(b)].public()).collect();
    let quantity = u32::try_from(n.div_ceil(TRADE_LISTINGS))
        .unwrap_or(u32::MAX)
        .max(1_000);
    let listings: Vec<(usize, UnsignedEvent)> = (0..TRADE_LISTINGS)
        .map(|i| {
            let listing = Listing {
                title: format!("Teléfono reacondicionado modelo {}", i + 1),
                description: "Revisado, con garantía de un año. Envío en 24 h.".into(),
                category: "electronics/phones".into(),
                price: Price {
                    amount: 19_900 + 1_000 * i as u64,
                    currency: "EUR".into(),
                },
                quantity,
                condition: Condition::LikeNew,
                location: Some(Location {
                    text: "Madrid".into(),
                    geohash: geohash(40.42, -3.70, 6),
                }),
                delivery: vec![DeliveryOption::Pickup, DeliveryOption::Shipping],
                payment: vec![
                    PaymentMethod::CashOnPickup,
                    PaymentMethod::BankTransfer,
                    PaymentMethod::PaymentLink,
                    PaymentMethod::Other,
                ],
                media: Vec::new(),
                expires_at: None,
                withdrawn: false,
            };
            (
                TRADER,
                UnsignedEvent::new(seller, start + i as u64, listing),
            )
        })
        .collect();
    let started = Instant::now();
    let listings = sign_all(listings, keys);
    let listing_ids: Vec<EventId> = listings.iter().map(Event::id).collect();

    let mut plan = Vec::with_capacity(n);
    let mut buyer_of = Vec::with_capacity(n);
    let mut unsigned = Vec::with_capacity(n);
    for i in 0..n {
        let b = rng.below(BUYERS);
        let delivery = if rng.chance(0.5) {
            DeliveryOption::Pickup
        } else {
            DeliveryOption::Shipping
        };
        let payment = match (delivery, rng.chance(0.5)) {
            (DeliveryOption::Pickup, true) => PaymentMethod::CashOnPickup,
            (DeliveryOption::Shipping, true) => PaymentMethod::PaymentLink,
            _ => PaymentMethod::BankTransfer,
        };
        let at = start + HOUR + i as u64 * MINUTE + rng.below(30_000) as u64;
        unsigned.push((
            buyer_key(b),
            UnsignedEvent::new(
                buyers[b],
                at,
                Order {
                    quantity: 1,
                    delivery,
                    payment,
                },
            )
            .ref_event(Rel::Listing, listing_ids[i % TRADE_LISTINGS])
            .ref_identity(Rel::Seller, seller),
        ));
        let mut roll = rng.below(100);
        let mut p = 0;
        while roll >= PATHS[p].0 {
            roll -= PATHS[p].0;
            p += 1;
        }
        plan.push(p);
        buyer_of.push(b);
    }
    let orders = sign_all(unsigned, keys);
    let order_ids: Vec<EventId> = orders.iter().map(Event::id).collect();
    let order_times: Vec<u64> = orders.iter().map(Event::created_at).collect();
    let mut latest = order_ids.clone();
    let mut last_at = order_times.clone();
    let mut events = listings;
    events.extend(orders);

    // Round k holds every trade's k-th step, so each step comes after its `prev`.
    let depth = PATHS.iter().map(|p| p.1.len()).max().unwrap_or(0);
    for step in 0..depth {
        let mut batch = Vec::new();
        let mut whose = Vec::new();
        for (t, &p) in plan.iter().enumerate() {
            let Some(&(state, by)) = PATHS[p].1.get(step) else {
                continue;
            };
            let (k, author) = match by {
                Party::Seller => (TRADER, seller),
                Party::Buyer => (buyer_key(buyer_of[t]), buyers[buyer_of[t]]),
            };
            last_at[t] += rng.range(10, 600) as u64 * MINUTE;
            let update = TradeUpdate {
                state,
                note: rng.chance(0.2).then(|| rng.word(NOTES).to_string()),
                tracking: (state == TradeState::Shipped)
                    .then(|| format!("KX{:09}", rng.next() % 1_000_000_000)),
            };
            batch.push((
                k,
                UnsignedEvent::new(author, last_at[t], update)
                    .ref_event(Rel::Order, order_ids[t])
                    .ref_event(Rel::Prev, latest[t]),
            ));
            whose.push(t);
        }
        let signed = sign_all(batch, keys);
        for (t, e) in whose.iter().zip(&signed) {
            latest[*t] = e.id();
        }
        events.extend(signed);
    }

    // Reviews of completed trades: most buyers review the seller, some sellers the buyer.
    let mut expected: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut holding = 0;
    let (mut reviews_of_seller, mut rating_sum) = (0u64, 0u64);
    let mut reviews = Vec::new();
    for (t, &p) in plan.iter().enumerate() {
        let path = PATHS[p].1;
        let end = path.last().map_or(TradeState::Ordered, |s| s.0);
        *expected.entry(end.name()).or_default() += 1;
        if path.iter().any(|s| s.0 == TradeState::Accepted) && end != TradeState::Cancelled {
            holding += 1;
        }
        if end != TradeState::Completed {
            continue;
        }
        let at = last_at[t] + DAY;
        let b = buyer_of[t];
        if rng.chance(0.8) {
            let rating: u8 = match rng.below(100) {
                0..60 => 5,
                60..85 => 4,
                85..95 => 3,
                95..98 => 2,
                _ => 1,
            };
            reviews_of_seller += 1;
            rating_sum += u64::from(rating);
            reviews.push((
                buyer_key(b),
                UnsignedEvent::new(
                    buyers[b],
                    at,
                    Review {
                        rating,
                        text: rng.word(REVIEWS).to_string(),
                    },
                )
                .ref_event(Rel::Order, order_ids[t])
                .ref_identity(Rel::Subject, seller),
            ));
        }
        if rng.chance(0.3) {
            reviews.push((
                TRADER,
                UnsignedEvent::new(
                    seller,
                    at + MINUTE,
                    Review {
                        rating: 5,
                        text: String::new(),
                    },
                )
                .ref_event(Rel::Order, order_ids[t])
                .ref_identity(Rel::Subject, buyers[b]),
            ));
        }
    }
    events.extend(sign_all(reviews, keys));
    let secs = started.elapsed().as_secs_f64();
    Trades {
        seller,
        buyers,
        listings: listing_ids,
        quantity,
        orders: order_ids,
        order_times,
        expected,
        holding,
        reviews_of_seller,
        rating_sum,
        events,
        secs,
    }
}

// ---------------------------------------------------------------- ingest

struct IngestRun {
    events: usize,
    secs: f64,
    outcomes: BTreeMap<&'static str, usize>,
    /// The first outcome other than `stored`, for the report.
    first_other: Option<String>,
}

impl IngestRun {
    fn stored(&self) -> usize {
        self.outcomes.get("stored").copied().unwrap_or(0)
    }

    fn json(&self) -> Value {
        json!({
            "events": self.events,
            "secs": round3(self.secs),
            "events_per_s": (self.events as f64 / self.secs.max(1e-9)).round(),
            "outcomes": self.outcomes,
            "first_other": self.first_other,
        })
    }
}

/// `Store::ingest_blocking` in chunks of `chunk` from `threads` threads (with
/// one thread, in the given order).
fn ingest(store: &Store, events: Vec<Event>, chunk: usize, threads: usize) -> IngestRun {
    let total = events.len();
    let mut chunks = Vec::new();
    let mut rest = events.into_iter();
    loop {
        let c: Vec<Event> = rest.by_ref().take(chunk).collect();
        if c.is_empty() {
            break;
        }
        chunks.push(c);
    }
    let queue = Mutex::new(chunks.into_iter());
    let queue = &queue;
    let started = Instant::now();
    let results: Vec<(BTreeMap<&'static str, usize>, Option<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                s.spawn(move || {
                    let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
                    let mut first_other = None;
                    loop {
                        let next = queue.lock().expect("queue lock").next();
                        let Some(batch) = next else { break };
                        let out = store.ingest_blocking(batch).expect("ingest");
                        for o in &out {
                            *outcomes.entry(outcome_name(o)).or_default() += 1;
                            if first_other.is_none() && !matches!(o, IngestOutcome::Stored { .. }) {
                                first_other = Some(format!("{o:?}"));
                            }
                        }
                    }
                    (outcomes, first_other)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("ingest thread"))
            .collect()
    });
    let secs = started.elapsed().as_secs_f64();
    let mut run = IngestRun {
        events: total,
        secs,
        outcomes: BTreeMap::new(),
        first_other: None,
    };
    for (outcomes, first) in results {
        for (k, v) in outcomes {
            *run.outcomes.entry(k).or_default() += v;
        }
        if run.first_other.is_none() {
            run.first_other = first;
        }
    }
    run
}

/// Seconds until the search index holds everything stored so far, and whether it did in time.
fn wait_indexed(store: &Store, timeout: Duration) -> (f64, bool) {
    let seq = store.reader().last_seq().expect("last seq");
    let t = Instant::now();
    let caught_up = store
        .search_index()
        .expect("search is on")
        .wait_indexed(seq, timeout);
    (t.elapsed().as_secs_f64(), caught_up)
}

// ---------------------------------------------------------------- latency

struct Latency {
    name: String,
    samples: usize,
    p50_us: f64,
    p99_us: f64,
    max_us: f64,
    mean_us: f64,
    /// Mean number of results per call.
    rows: f64,
    /// Calls that found nothing.
    empty: usize,
}

impl Latency {
    fn json(&self) -> Value {
        json!({
            "samples": self.samples,
            "p50_us": round1(self.p50_us),
            "p99_us": round1(self.p99_us),
            "max_us": round1(self.max_us),
            "mean_us": round1(self.mean_us),
            "rows": round1(self.rows),
            "empty": self.empty,
        })
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e6
}

fn latency_of(name: &str, mut times: Vec<Duration>, rows: usize, empty: usize) -> Latency {
    times.sort();
    let n = times.len().max(1);
    Latency {
        name: name.to_string(),
        samples: times.len(),
        p50_us: percentile(&times, 0.50),
        p99_us: percentile(&times, 0.99),
        max_us: times.last().map_or(0.0, |d| d.as_secs_f64() * 1e6),
        mean_us: times.iter().map(Duration::as_secs_f64).sum::<f64>() * 1e6 / n as f64,
        rows: rows as f64 / n as f64,
        empty,
    }
}

fn log_latency(l: &Latency) {
    eprintln!(
        "  {:<52} p50 {:>9.1} µs  p99 {:>9.1} µs  rows {:>6.1}",
        l.name, l.p50_us, l.p99_us, l.rows
    );
}

/// Runs `op` (which returns how many results it got) `WARM_UP + samples` times.
fn measure(
    name: &str,
    samples: usize,
    seed: u64,
    mut op: impl FnMut(&mut Rng) -> usize,
) -> Latency {
    let mut rng = Rng(seed);
    for _ in 0..WARM_UP {
        op(&mut rng);
    }
    let mut times = Vec::with_capacity(samples);
    let (mut rows, mut empty) = (0, 0);
    for _ in 0..samples {
        let t = Instant::now();
        let got = op(&mut rng);
        times.push(t.elapsed());
        rows += got;
        empty += usize::from(got == 0);
    }
    let l = latency_of(name, times, rows, empty);
    log_latency(&l);
    l
}

// ---------------------------------------------------------------- search

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Words,
    WordsCategory,
    CategoryPrice,
    NearInStock,
    Newest,
    Seller,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::Words => "words",
            Class::WordsCategory => "words + category",
            Class::CategoryPrice => "category + price range + currency, price asc",
            Class::NearInStock => "near (geohash 3-4) + in stock, newest",
            Class::Newest => "category browse, newest",
            Class::Seller => "one seller's listings, newest",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Class::Words => "words",
            Class::WordsCategory => "words_category",
            Class::CategoryPrice => "category_price_currency",
            Class::NearInStock => "near_in_stock",
            Class::Newest => "category_newest",
            Class::Seller => "seller",
        }
    }
}

/// The mix: each query seeded from a live listing, so it has something to find.
fn listing_queries(m: &Market, sellers: &[PublicKey], count: usize) -> Vec<(Class, ListingQuery)> {
    let mut rng = Rng(0x5eed_1157);
    let live: Vec<usize> = (0..m.meta.len()).filter(|i| m.meta[*i].live).collect();
    let nearby: Vec<usize> = live
        .iter()
        .copied()
        .filter(|i| m.meta[*i].stocked && m.meta[*i].geohash.is_some())
        .collect();
    assert!(
        !live.is_empty() && !nearby.is_empty(),
        "some listings are live and located"
    );
    (0..count)
        .map(|_| {
            let class = match rng.below(100) {
                0..30 => Class::Words,
                30..50 => Class::WordsCategory,
                50..65 => Class::CategoryPrice,
                65..80 => Class::NearInStock,
                80..90 => Class::Newest,
                _ => Class::Seller,
            };
            let seed = if class == Class::NearInStock {
                &m.meta[*rng.pick(&nearby)]
            } else {
                &m.meta[*rng.pick(&live)]
            };
            let mut q = ListingQuery {
                limit: PAGE,
                ..ListingQuery::default()
            };
            let child_or_parent = |rng: &mut Rng, p_parent: f64| {
                if rng.chance(p_parent) {
                    parent(seed.category).to_string()
                } else {
                    seed.category.to_string()
                }
            };
            match class {
                Class::Words => {
                    let words: Vec<String> = seed
                        .title
                        .split_whitespace()
                        .map(str::to_lowercase)
                        .collect();
                    let k = match rng.below(10) {
                        0..5 => 1,
                        5..9 => 2,
                        _ => 3,
                    }
                    .min(words.len());
                    let at = rng.below(words.len() - k + 1);
                    let mut picked: Vec<String> = words[at..at + k].to_vec();
                    if rng.chance(0.5) {
                        picked = picked.iter().map(|w| fold(w)).collect();
                    }
                    if rng.chance(0.15) {
                        let longest = (0..picked.len())
                            .max_by_key(|i| picked[*i].chars().count())
                            .unwrap_or(0);
                        if let Some(w) = typo(&mut rng, &picked[longest]) {
                            picked[longest] = w;
                        }
                    }
                    q.text = picked.join(" ");
                }
                Class::WordsCategory => {
                    q.text = if rng.chance(0.5) {
                        fold(seed.noun)
                    } else {
                        seed.noun.to_string()
                    };
                    q.category = Some(child_or_parent(&mut rng, 0.5));
                }
                Class::CategoryPrice => {
                    q.category = Some(child_or_parent(&mut rng, 0.5));
                    q.currency = Some(seed.currency.to_string());
                    let below = 1.0 + 3.0 * rng.unit();
                    let above = 1.0 + 3.0 * rng.unit();
                    q.min_price = Some((seed.price as f64 / below) as u64);
                    q.max_price = Some((seed.price as f64 * above).ceil() as u64);
                    q.sort = ListingSort::PriceAsc;
                }
                Class::NearInStock => {
                    let g = seed.geohash.as_deref().unwrap_or_default();
                    let len = rng.range(3, 4).min(g.len());
                    q.near = Some(g[..len].to_string());
                    q.in_stock = true;
                    q.sort = ListingSort::Newest;
                }
                Class::Newest => {
                    q.category = Some(child_or_parent(&mut rng, 0.4));
                    q.sort = ListingSort::Newest;
                }
                Class::Seller => {
                    q.seller = Some(sellers[seed.seller]);
                    q.sort = ListingSort::Newest;
                }
            }
            (class, q)
        })
        .collect()
}

/// Runs the mix after `WARM_UP` unmeasured queries; the overall row first.
fn search_latency(store: &Store, qs: &[(Class, ListingQuery)]) -> Vec<(Option<Class>, Latency)> {
    let warm = WARM_UP.min(qs.len() / 2);
    for (_, q) in &qs[..warm] {
        store.search_listings(q, NOW).expect("search");
    }
    let mut by_class: BTreeMap<Class, (Vec<Duration>, usize, usize)> = BTreeMap::new();
    let (mut all, mut rows, mut empty) = (Vec::new(), 0, 0);
    for (class, q) in &qs[warm..] {
        let t = Instant::now();
        let hits = store.search_listings(q, NOW).expect("search").len();
        let d = t.elapsed();
        all.push(d);
        rows += hits;
        empty += usize::from(hits == 0);
        let e = by_class.entry(*class).or_default();
        e.0.push(d);
        e.1 += hits;
        e.2 += usize::from(hits == 0);
    }
    let mut out = vec![(
        None,
        latency_of("search_listings, all queries (limit 20)", all, rows, empty),
    )];
    for (class, (times, rows, empty)) in by_class {
        out.push((
            Some(class),
            latency_of(&format!("search: {}", class.name()), times, rows, empty),
        ));
    }
    for (_, l) in &out {
        log_latency(l);
    }
    out
}

// ---------------------------------------------------------------- trade queries

/// Pages through `party`'s trades; (rows, pages).
fn walk(store: &Store, party: &PublicKey, page: usize, max_pages: usize) -> (usize, usize) {
    let (mut rows, mut pages, mut before) = (0, 0, None);
    loop {
        let (items, next) = store
            .trades_of(party, &TradeFilter::default(), before, page)
            .expect("trades_of");
        rows += items.len();
        pages += 1;
        match next {
            Some(c) if pages < max_pages => before = Some(c),
            _ => return (rows, pages),
        }
    }
}

fn trade_queries(store: &Store, tr: &Trades, samples: usize) -> Vec<(&'static str, Latency)> {
    let n = tr.orders.len();
    let seller = tr.seller;
    let first_page = |filter: TradeFilter| {
        move |_: &mut Rng| {
            store
                .trades_of(&seller, &filter, None, PAGE)
                .expect("trades_of")
                .0
                .len()
        }
    };
    vec![
        (
            "trade_lookup",
            measure("trade(order): state of a random trade", samples, 11, |r| {
                let order = tr.orders[r.below(n)];
                usize::from(store.trade(&order).expect("trade").is_some())
            }),
        ),
        (
            "trades_of_first_page",
            measure(
                "trades_of(seller), first page of 20",
                samples,
                12,
                first_page(TradeFilter::default()),
            ),
        ),
        (
            "trades_of_random_cursor",
            measure(
                "trades_of(seller), page of 20 at a random cursor",
                samples,
                13,
                |r| {
                    // A trade with at least a page of older ones behind it.
                    let t = PAGE + r.below(n - PAGE);
                    let cursor = Cursor {
                        created_at: tr.order_times[t],
                        id: tr.orders[t],
                    };
                    store
                        .trades_of(&seller, &TradeFilter::default(), Some(cursor), PAGE)
                        .expect("trades_of")
                        .0
                        .len()
                },
            ),
        ),
        (
            "trades_of_open",
            measure(
                "trades_of(seller, open), first page",
                samples,
                14,
                first_page(TradeFilter {
                    open: true,
                    ..TradeFilter::default()
                }),
            ),
        ),
        (
            "trades_of_accepted",
            measure(
                "trades_of(seller, state=accepted), first page",
                samples,
                15,
                first_page(TradeFilter {
                    state: Some(TradeState::Accepted),
                    ..TradeFilter::default()
                }),
            ),
        ),
        (
            "trades_of_disputed",
            measure(
                "trades_of(seller, state=disputed, 2 %), first page",
                samples,
                16,
                first_page(TradeFilter {
                    state: Some(TradeState::Disputed),
                    ..TradeFilter::default()
                }),
            ),
        ),
        (
            "trades_of_buyer",
            measure("trades_of(random buyer), first page", samples, 17, |r| {
                let b = tr.buyers[r.below(tr.buyers.len())];
                store
                    .trades_of(&b, &TradeFilter::default(), None, PAGE)
                    .expect("trades_of")
                    .0
                    .len()
            }),
        ),
        (
            "reputation_seller",
            measure("reputation(seller)", samples, 18, |_| {
                store.reputation(&seller).expect("reputation").count as usize
            }),
        ),
    ]
}

// ---------------------------------------------------------------- system

/// A `kB` line of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim_start_matches(':')
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(0)
        * 1024
}

/// Bytes files take on disk (allocated blocks, like `du`).
fn du(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_dir() {
        std::fs::read_dir(path)
            .map(|d| d.flatten().map(|e| du(&e.path())).sum())
            .unwrap_or(0)
    } else {
        meta.blocks() * 512
    }
}

fn mib(b: u64) -> f64 {
    b as f64 / (1 << 20) as f64
}

// ---------------------------------------------------------------- main

fn main() {
    let n = env_usize("KITH_BENCH_LISTINGS", 100_000).max(1_000);
    let trades_n = env_usize("KITH_BENCH_TRADES", 10_000).max(100);
    let samples = env_usize("KITH_BENCH_SAMPLES", 2_000).max(10);
    let walks = env_usize("KITH_BENCH_WALKS", 10).max(1);
    let chunk = env_usize("KITH_BENCH_INGEST_CHUNK", 4096).max(1);
    let index_timeout = Duration::from_secs(env_usize("KITH_BENCH_INDEX_TIMEOUT_S", 300) as u64);
    let deadline = Duration::from_secs(env_usize("KITH_BENCH_DEADLINE_S", 900) as u64);
    let base = std::env::var_os("KITH_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    let load_start = load_average();
    let wall = Instant::now();
    eprintln!(
        "kith-storage market bench: {n} listings, {trades_n} trades, {cores} cores, load average {load_start:?}"
    );
    // Whatever hangs, the run ends.
    std::thread::Builder::new()
        .name("bench-deadline".into())
        .spawn(move || {
            std::thread::sleep(deadline);
            eprintln!(
                "kith market bench: still running after {deadline:?} (KITH_BENCH_DEADLINE_S); giving up"
            );
            std::process::exit(2);
        })
        .expect("spawn the deadline thread");
    let mut problems: Vec<String> = Vec::new();

    eprintln!("[1/6] keys, listings, edits");
    let keys: Vec<Keypair> = (0..TRADER + 1 + BUYERS).map(key).collect();
    let sellers: Vec<PublicKey> = keys[..SELLERS].iter().map(Keypair::public).collect();
    let mut market = generate_listings(n, &keys);
    let edits_n = market.edits.len();
    eprintln!(
        "  built in {:.1} s, signed in {:.1} s ({} originals, {edits_n} edits)",
        market.build_secs,
        market.sign_secs,
        market.originals.len()
    );
    eprintln!("[2/6] trades");
    let trades_start = T0 + n as u64 * 600 + 2 * DAY;
    let mut trades = generate_trades(trades_n, trades_start, &keys);
    let trade_events = trades.events.len();
    eprintln!(
        "  {trade_events} events generated and signed in {:.1} s",
        trades.secs
    );

    eprintln!("[3/6] ingest listings (2 threads), then edits, then wait for the index");
    let dir = tempfile::Builder::new()
        .prefix("kith-market-bench-")
        .tempdir_in(&base)
        .expect("temp dir");
    let store = Store::open(StoreConfig::new(dir.path())).expect("open store");
    let originals = std::mem::take(&mut market.originals);
    let listing_run = ingest(&store, originals, chunk, 2);
    let edit_run = ingest(&store, std::mem::take(&mut market.edits), chunk, 1);
    let listing_ingest_secs = listing_run.secs + edit_run.secs;
    let (listing_index_secs, listing_indexed) = wait_indexed(&store, index_timeout);
    let listing_events = n + edits_n;
    let searchable_rate =
        listing_events as f64 / (listing_ingest_secs + listing_index_secs).max(1e-9);
    eprintln!(
        "  ingest {listing_ingest_secs:.1} s, index caught up {listing_index_secs:.1} s later{}",
        if listing_indexed { "" } else { " (TIMED OUT)" }
    );
    if listing_run.stored() != n {
        problems.push(format!(
            "listings: {} of {n} stored ({:?}; first other: {:?})",
            listing_run.stored(),
            listing_run.outcomes,
            listing_run.first_other
        ));
    }
    if edit_run.stored() != edits_n {
        problems.push(format!(
            "listing edits: {} of {edits_n} stored ({:?}; first other: {:?})",
            edit_run.stored(),
            edit_run.outcomes,
            edit_run.first_other
        ));
    }
    if !listing_indexed {
        problems.push(format!(
            "listings: the search index did not catch up within {index_timeout:?}"
        ));
    }

    eprintln!("[4/6] ingest trades (in order, 1 thread), then wait for the index");
    let trade_run = ingest(&store, std::mem::take(&mut trades.events), chunk, 1);
    let (trade_index_secs, trade_indexed) = wait_indexed(&store, index_timeout);
    eprintln!(
        "  ingest {:.1} s, index caught up {trade_index_secs:.1} s later{}",
        trade_run.secs,
        if trade_indexed { "" } else { " (TIMED OUT)" }
    );
    if trade_run.stored() != trade_events {
        problems.push(format!(
            "trades: {} of {trade_events} events stored ({:?}; first other: {:?})",
            trade_run.stored(),
            trade_run.outcomes,
            trade_run.first_other
        ));
    }
    if !trade_indexed {
        problems.push(format!(
            "trades: the search index did not catch up within {index_timeout:?}"
        ));
    }
    let sled_bytes = store.size_on_disk().expect("size on disk");
    let store_du = du(&dir.path().join(STORE_DIR));
    let search_du = du(&dir.path().join(SEARCH_DIR));

    eprintln!("[5/6] search ({samples} queries after {WARM_UP} warm-up)");
    let queries = listing_queries(&market, &sellers, samples + WARM_UP);
    let search_rows = search_latency(&store, &queries);
    for (class, l) in &search_rows {
        if l.rows <= 0.0 {
            problems.push(format!("search: {} found nothing at all", l.name));
        }
        if class.is_none() && l.empty * 10 > l.samples {
            problems.push(format!(
                "search: {} of {} queries found nothing (over 10 %)",
                l.empty, l.samples
            ));
        }
    }

    eprintln!("[6/6] trades ({samples} samples per query type after {WARM_UP} warm-up)");
    // The generated states, checked with a walk through every trade.
    let mut states: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut before = None;
    for _ in 0..=trades_n {
        let (items, next) = store
            .trades_of(&trades.seller, &TradeFilter::default(), before, 100)
            .expect("trades_of");
        for (_, record) in &items {
            *states.entry(record.state.name()).or_default() += 1;
        }
        match next {
            Some(c) => before = Some(c),
            None => break,
        }
    }
    if states != trades.expected {
        problems.push(format!(
            "trades: states {states:?}, generated {:?}",
            trades.expected
        ));
    }
    let stock: u64 = trades
        .listings
        .iter()
        .map(|l| u64::from(store.stock(l).expect("stock")))
        .sum();
    let expected_stock = u64::from(trades.quantity) * TRADE_LISTINGS as u64 - trades.holding as u64;
    if stock != expected_stock {
        problems.push(format!(
            "trades: stock left {stock}, expected {expected_stock}"
        ));
    }
    let reputation = store.reputation(&trades.seller).expect("reputation");
    let expected_mean = (trades.reviews_of_seller > 0)
        .then(|| trades.rating_sum as f64 / trades.reviews_of_seller as f64);
    if reputation.count != trades.reviews_of_seller
        || reputation.mean.map(round3) != expected_mean.map(round3)
    {
        problems.push(format!(
            "trades: reputation {reputation:?}, expected {} reviews, mean {expected_mean:?}",
            trades.reviews_of_seller
        ));
    }
    let trade_rows = trade_queries(&store, &trades, samples);
    // These always have something to return (the others may legitimately not).
    let never_empty = [
        "trade_lookup",
        "trades_of_first_page",
        "trades_of_random_cursor",
        "trades_of_open",
    ];
    for (key, l) in &trade_rows {
        if never_empty.contains(key) && l.empty > 0 {
            problems.push(format!("{}: {} calls found nothing", l.name, l.empty));
        }
    }
    let mut walk_rows = Vec::new();
    for page in [20usize, 100] {
        let max_pages = trades_n / page + 2;
        let mut times = Vec::with_capacity(walks);
        let (mut rows, mut pages) = (0, 0);
        for _ in 0..walks {
            let t = Instant::now();
            (rows, pages) = walk(&store, &trades.seller, page, max_pages);
            times.push(t.elapsed());
        }
        if rows != trades_n {
            problems.push(format!(
                "walk with pages of {page}: {rows} trades, expected {trades_n}"
            ));
        }
        let l = latency_of(
            &format!("walk all {trades_n} trades, pages of {page} ({pages} pages)"),
            times,
            rows * walks,
            0,
        );
        log_latency(&l);
        walk_rows.push((page, pages, l));
    }
    let hwm = status_bytes("VmHWM");
    let load_end = load_average();
    let wall_secs = wall.elapsed().as_secs_f64();
    drop(store);
    drop(dir);

    // ------------------------------------------------------------ table
    let line = "-".repeat(112);
    println!();
    println!(
        "Kith marketplace benchmark: {n} listings by {SELLERS} sellers, one seller with {trades_n} trades; \
         {cores} cores (available_parallelism)"
    );
    println!(
        "load average at start {load_start:?}, at end {load_end:?} (includes this bench); wall {wall_secs:.0} s"
    );
    if load_start.first().is_some_and(|l| *l > 1.5) {
        println!("WARNING: the machine was busy at the start; numbers are pessimistic");
    }
    println!("{line}");
    println!(
        "listings: {} sellers with listings, {} categories, {} regions (3-char geohash cells), currencies {:?}",
        market.sellers_with_listings, market.categories, market.regions, market.currencies
    );
    println!(
        "          mean title {:.0} B, description {:.0} B; edits {:?}; built {:.1} s, signed {:.1} s on 2 threads",
        market.title_bytes as f64 / n as f64,
        market.description_bytes as f64 / n as f64,
        market.edit_kinds,
        market.build_secs,
        market.sign_secs
    );
    println!(
        "trades:   {trades_n} orders by {BUYERS} buyers on {TRADE_LISTINGS} listings of {} units; final states {:?}; \
         {} reviews of the seller; {trade_events} events generated and signed in {:.1} s",
        trades.quantity, trades.expected, trades.reviews_of_seller, trades.secs
    );
    println!("{line}");
    println!("{:<60} {:>14}", "ingest", "value");
    println!(
        "{:<60} {:>14.2}",
        "listings: ingest s (originals on 2 threads, then edits)", listing_ingest_secs
    );
    println!(
        "{:<60} {:>14.0}",
        "listings: ingest events/s",
        listing_events as f64 / listing_ingest_secs.max(1e-9)
    );
    println!(
        "{:<60} {:>14}",
        "listings: index caught up after the last ack, s",
        format!(
            "{listing_index_secs:.2}{}",
            if listing_indexed { "" } else { " TIMED OUT" }
        )
    );
    println!(
        "{:<60} {:>14.2}",
        "listings: ingest + index s",
        listing_ingest_secs + listing_index_secs
    );
    println!(
        "{:<60} {:>14.0}",
        "listings: searchable events/s", searchable_rate
    );
    println!(
        "{:<60} {:>14.2}",
        "trades: ingest s (in order, 1 thread)", trade_run.secs
    );
    println!(
        "{:<60} {:>14}",
        "trades: index caught up after the last ack, s",
        format!(
            "{trade_index_secs:.2}{}",
            if trade_indexed { "" } else { " TIMED OUT" }
        )
    );
    println!(
        "{:<60} {:>14}",
        "disk MiB: sled estimate / store du / search du",
        format!(
            "{:.0} / {:.0} / {:.0}",
            mib(sled_bytes),
            mib(store_du),
            mib(search_du)
        )
    );
    println!("{:<60} {:>14.0}", "peak RSS (VmHWM) MiB", mib(hwm));
    println!("{line}");
    let header = |title: &str| {
        println!(
            "{:<60} {:>7} {:>10} {:>10} {:>10} {:>10} {:>7} {:>6}",
            title, "samples", "p50 µs", "p99 µs", "max µs", "mean µs", "rows", "empty"
        );
    };
    let row = |l: &Latency| {
        println!(
            "{:<60} {:>7} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>7.1} {:>6}",
            l.name, l.samples, l.p50_us, l.p99_us, l.max_us, l.mean_us, l.rows, l.empty
        );
    };
    header("search_listings (limit 20)");
    for (_, l) in &search_rows {
        row(l);
    }
    println!("{line}");
    header("trades (pages of 20)");
    for (_, l) in &trade_rows {
        row(l);
    }
    for (_, _, l) in &walk_rows {
        row(l);
    }
    println!(
        "reputation(seller): {} reviews, mean {:?}",
        reputation.count, reputation.mean
    );
    println!("{line}");
    if problems.is_empty() {
        println!("checks: all passed");
    } else {
        for p in &problems {
            println!("PROBLEM: {p}");
        }
    }

    let search_json: serde_json::Map<String, Value> = search_rows
        .iter()
        .map(|(class, l)| (class.map_or("all", Class::key).to_string(), l.json()))
        .collect();
    let trades_json: serde_json::Map<String, Value> = trade_rows
        .iter()
        .map(|(key, l)| ((*key).to_string(), l.json()))
        .collect();
    let walks_json: serde_json::Map<String, Value> = walk_rows
        .iter()
        .map(|(page, pages, l)| {
            (
                format!("walk_page_{page}"),
                json!({
                    "walks": l.samples,
                    "pages": pages,
                    "p50_ms": round3(l.p50_us / 1000.0),
                    "max_ms": round3(l.max_us / 1000.0),
                    "mean_ms": round3(l.mean_us / 1000.0),
                    "mean_us_per_page": round1(l.mean_us / (*pages).max(1) as f64),
                }),
            )
        })
        .collect();
    let corpus_json = json!({
        "sellers_with_listings": market.sellers_with_listings,
        "categories": market.categories,
        "regions": market.regions,
        "currencies": market.currencies,
        "edits": market.edit_kinds,
        "build_s": round3(market.build_secs),
        "sign_s": round3(market.sign_secs),
    });
    let listing_ingest_json = json!({
        "originals": listing_run.json(),
        "edits": edit_run.json(),
        "ingest_s": round3(listing_ingest_secs),
        "index_wait_s": round3(listing_index_secs),
        "index_caught_up": listing_indexed,
        "ingest_and_index_s": round3(listing_ingest_secs + listing_index_secs),
        "searchable_events_per_s": searchable_rate.round(),
    });
    let trade_ingest_json = json!({
        "run": trade_run.json(),
        "index_wait_s": round3(trade_index_secs),
        "index_caught_up": trade_indexed,
    });
    let disk_json = json!({
        "sled_estimate_bytes": sled_bytes,
        "store_du_bytes": store_du,
        "search_du_bytes": search_du,
    });
    let trades_all_json = json!({
        "count": trades_n,
        "buyers": BUYERS,
        "final_states": trades.expected,
        "reviews_of_seller": trades.reviews_of_seller,
        "reputation": { "count": reputation.count, "mean": reputation.mean },
        "queries": trades_json,
        "walks": walks_json,
    });
    let json = json!({
        "bench": "kith-storage/market",
        "cores": cores,
        "load_start": load_start,
        "load_end": load_end,
        "wall_s": wall_secs.round(),
        "listings": n,
        "sellers": SELLERS,
        "samples": samples,
        "corpus": corpus_json,
        "ingest_listings": listing_ingest_json,
        "ingest_trades": trade_ingest_json,
        "disk": disk_json,
        "vm_hwm_bytes": hwm,
        "search": search_json,
        "trades": trades_all_json,
        "problems": problems,
    });
    println!("{json}");
    assert!(
        problems.is_empty(),
        "market bench checks failed: {problems:#?}"
    );
}
