//! The marketplace: `listing`, `order`, `trade_update`, `review`, and the trade
//! state machine. Spec: `specs/kinds.md#listing` and `specs/trades.md`.
//!
//! A trade is identified by its order's id. Every later step is a
//! `trade_update` signed by the one party allowed to take it, referencing the
//! order and the previous step, so a trade's history is a signed chain that
//! neither side nor any node in between can rewrite.

use serde::{Deserialize, Serialize};

use super::{KindPayload, Meta, future_within, subject_not_author};
use crate::check;
use crate::error::{AuthError, EventError};
use crate::media::{self, MediaDescriptor};
use crate::refs::{RefRule, Rel};

/// Longest title.
pub const MAX_TITLE_BYTES: usize = 200;
/// Longest description.
pub const MAX_DESCRIPTION_BYTES: usize = 10_000;
/// Longest category path.
pub const MAX_CATEGORY_BYTES: usize = 100;
/// Most photos.
pub const MAX_LISTING_MEDIA: usize = 10;
/// Longest note on a trade step.
pub const MAX_NOTE_BYTES: usize = 1_000;
/// Longest review text.
pub const MAX_REVIEW_BYTES: usize = 2_000;

/// A price: an amount in the currency's minor unit (cents for EUR).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Amount in minor units.
    pub amount: u64,
    /// ISO 4217 code, such as `EUR`, `MXN`, `ARS`.
    pub currency: String,
}

impl Price {
    fn validate(&self) -> Result<(), EventError> {
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(EventError::field(
                "price.currency",
                "must be an ISO 4217 code such as EUR",
            ));
        }
        Ok(())
    }
}

/// The state of the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Condition {
    New,
    LikeNew,
    Good,
    Fair,
    ForParts,
}

/// How the item reaches the buyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum DeliveryOption {
    Pickup,
    Shipping,
}

/// How the buyer pays. Money moves outside Kith; the trade records what both confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum PaymentMethod {
    CashOnPickup,
    BankTransfer,
    PaymentLink,
    Other,
}

/// Where the item is.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Free text (neighbourhood, town).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// A coarse geohash, 1 to 6 characters (about 1 km at 6).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub geohash: String,
}

const GEOHASH_ALPHABET: &[u8] = b"0123456789bcdefghjkmnpqrstuvwxyz";

impl Location {
    fn validate(&self) -> Result<(), EventError> {
        check::text("location.text", &self.text, 200)?;
        if self.geohash.len() > 6 || !self.geohash.bytes().all(|b| GEOHASH_ALPHABET.contains(&b)) {
            return Err(EventError::field(
                "location.geohash",
                "1 to 6 geohash characters",
            ));
        }
        if self.text.is_empty() && self.geohash.is_empty() {
            return Err(EventError::field(
                "location",
                "give text or a geohash, or leave it out",
            ));
        }
        Ok(())
    }
}

/// A listing. An edit is a new `listing` with an `edit_of` reference to the
/// original, whose id stays the listing's id; `withdrawn` takes it off sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listing {
    /// Title.
    pub title: String,
    /// Description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Category path from the documented tree, e.g. `home/furniture`.
    pub category: String,
    /// Price per unit.
    pub price: Price,
    /// Units in stock.
    pub quantity: u32,
    /// Condition.
    pub condition: Condition,
    /// Where it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Delivery options offered.
    pub delivery: Vec<DeliveryOption>,
    /// Payment methods accepted.
    pub payment: Vec<PaymentMethod>,
    /// Photos.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<MediaDescriptor>,
    /// When the listing lapses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// Taken off sale by the seller.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub withdrawn: bool,
}

/// One category of the documented tree (`specs/trades.md` § Categories).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Category {
    /// The path, as listings carry it.
    pub path: &'static str,
    /// English name.
    pub en: &'static str,
    /// Spanish name.
    pub es: &'static str,
}

/// The category tree clients offer, parents before their children. The
/// category rule is syntactic ([`check_category`]): a path outside the tree
/// stays valid, so the tree can grow without older nodes refusing listings.
pub const CATEGORIES: &[Category] = &[
    Category {
        path: "home",
        en: "Home",
        es: "Hogar",
    },
    Category {
        path: "home/furniture",
        en: "Furniture",
        es: "Muebles",
    },
    Category {
        path: "home/kitchen",
        en: "Kitchen",
        es: "Cocina",
    },
    Category {
        path: "home/decor",
        en: "Decor",
        es: "Decoración",
    },
    Category {
        path: "home/appliances",
        en: "Appliances",
        es: "Electrodomésticos",
    },
    Category {
        path: "electronics",
        en: "Electronics",
        es: "Electrónica",
    },
    Category {
        path: "electronics/phones",
        en: "Phones",
        es: "Teléfonos",
    },
    Category {
        path: "electronics/computers",
        en: "Computers",
        es: "Ordenadores",
    },
    Category {
        path: "electronics/audio",
        en: "Audio",
        es: "Audio",
    },
    Category {
        path: "electronics/games",
        en: "Video games",
        es: "Videojuegos",
    },
    Category {
        path: "clothing",
        en: "Clothing",
        es: "Ropa",
    },
    Category {
        path: "clothing/women",
        en: "Women",
        es: "Mujer",
    },
    Category {
        path: "clothing/men",
        en: "Men",
        es: "Hombre",
    },
    Category {
        path: "clothing/shoes",
        en: "Shoes",
        es: "Calzado",
    },
    Category {
        path: "clothing/accessories",
        en: "Accessories",
        es: "Accesorios",
    },
    Category {
        path: "kids",
        en: "Kids",
        es: "Infantil",
    },
    Category {
        path: "kids/toys",
        en: "Toys",
        es: "Juguetes",
    },
    Category {
        path: "kids/clothing",
        en: "Kids' clothing",
        es: "Ropa infantil",
    },
    Category {
        path: "kids/gear",
        en: "Baby gear",
        es: "Artículos de bebé",
    },
    Category {
        path: "sports",
        en: "Sports",
        es: "Deportes",
    },
    Category {
        path: "sports/bikes",
        en: "Bikes",
        es: "Bicicletas",
    },
    Category {
        path: "sports/fitness",
        en: "Fitness",
        es: "Fitness",
    },
    Category {
        path: "sports/outdoor",
        en: "Outdoor",
        es: "Aire libre",
    },
    Category {
        path: "books_media",
        en: "Books and media",
        es: "Libros y medios",
    },
    Category {
        path: "books_media/books",
        en: "Books",
        es: "Libros",
    },
    Category {
        path: "books_media/music",
        en: "Music",
        es: "Música",
    },
    Category {
        path: "books_media/film",
        en: "Film",
        es: "Cine",
    },
    Category {
        path: "vehicles",
        en: "Vehicles",
        es: "Vehículos",
    },
    Category {
        path: "vehicles/cars",
        en: "Cars",
        es: "Coches",
    },
    Category {
        path: "vehicles/motorbikes",
        en: "Motorbikes",
        es: "Motos",
    },
    Category {
        path: "vehicles/parts",
        en: "Parts",
        es: "Recambios",
    },
    Category {
        path: "garden",
        en: "Garden",
        es: "Jardín",
    },
    Category {
        path: "garden/plants",
        en: "Plants",
        es: "Plantas",
    },
    Category {
        path: "garden/tools",
        en: "Garden tools",
        es: "Herramientas de jardín",
    },
    Category {
        path: "tools",
        en: "Tools",
        es: "Herramientas",
    },
    Category {
        path: "tools/hand",
        en: "Hand tools",
        es: "Herramientas manuales",
    },
    Category {
        path: "tools/power",
        en: "Power tools",
        es: "Herramientas eléctricas",
    },
    Category {
        path: "food",
        en: "Food",
        es: "Alimentación",
    },
    Category {
        path: "food/produce",
        en: "Produce",
        es: "Productos frescos",
    },
    Category {
        path: "food/baked",
        en: "Baked goods",
        es: "Panadería",
    },
    Category {
        path: "food/preserves",
        en: "Preserves",
        es: "Conservas",
    },
    Category {
        path: "services",
        en: "Services",
        es: "Servicios",
    },
    Category {
        path: "services/lessons",
        en: "Lessons",
        es: "Clases",
    },
    Category {
        path: "services/repairs",
        en: "Repairs",
        es: "Reparaciones",
    },
    Category {
        path: "services/care",
        en: "Care",
        es: "Cuidados",
    },
    Category {
        path: "housing",
        en: "Housing",
        es: "Vivienda",
    },
    Category {
        path: "housing/rent",
        en: "Rent",
        es: "Alquiler",
    },
    Category {
        path: "housing/rooms",
        en: "Rooms",
        es: "Habitaciones",
    },
    Category {
        path: "other",
        en: "Other",
        es: "Otros",
    },
];

/// The exponent of a currency's minor unit (ISO 4217): 0 for the yen, 3 for
/// the Kuwaiti dinar, 2 for most. Amounts are in minor units.
pub fn minor_units(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

impl Price {
    /// The amount in major units as people write it: `12.50` for 1250 EUR
    /// cents, `1500` for 1500 yen.
    pub fn major_units(&self) -> String {
        let units = minor_units(&self.currency);
        let scale = 10u64.pow(units);
        if units == 0 {
            self.amount.to_string()
        } else {
            format!(
                "{}.{:0width$}",
                self.amount / scale,
                self.amount % scale,
                width = units as usize
            )
        }
    }

    /// The price with its currency: `12.50 EUR`.
    pub fn display(&self) -> String {
        format!("{} {}", self.major_units(), self.currency)
    }
}

/// Checks a category path: 1 to 4 segments of `a-z`, `0-9` and `_`, joined by `/`.
pub fn check_category(category: &str) -> Result<(), EventError> {
    check::required_text("category", category, MAX_CATEGORY_BYTES)?;
    let segments: Vec<&str> = category.split('/').collect();
    let ok = segments.len() <= 4
        && segments.iter().all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
    if !ok {
        return Err(EventError::field(
            "category",
            "a path such as `home/furniture`",
        ));
    }
    Ok(())
}

impl KindPayload for Listing {
    const REFS: &'static [RefRule] = &[
        RefRule::event(Rel::EditOf, 0, 1),
        RefRule::event(Rel::Community, 0, 1),
    ];

    fn validate(&self, meta: &Meta<'_>) -> Result<(), EventError> {
        check::required_text("title", &self.title, MAX_TITLE_BYTES)?;
        check::text("description", &self.description, MAX_DESCRIPTION_BYTES)?;
        check_category(&self.category)?;
        self.price.validate()?;
        if let Some(location) = &self.location {
            location.validate()?;
        }
        if self.delivery.is_empty() {
            return Err(EventError::field(
                "delivery",
                "offer at least one delivery option",
            ));
        }
        if self.payment.is_empty() {
            return Err(EventError::field(
                "payment",
                "accept at least one payment method",
            ));
        }
        check::unique("delivery", &self.delivery)?;
        check::unique("payment", &self.payment)?;
        media::check_all("media", &self.media, MAX_LISTING_MEDIA)?;
        if let Some(at) = self.expires_at {
            future_within("expires_at", at, meta, None)?;
        }
        if self.withdrawn && !meta.has(Rel::EditOf) {
            return Err(EventError::field(
                "withdrawn",
                "only an edit can withdraw a listing",
            ));
        }
        Ok(())
    }
}

/// A buyer's order on the `listing`, naming its `seller`. The order's id is the trade's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    /// Units ordered.
    pub quantity: u32,
    /// The delivery option chosen.
    pub delivery: DeliveryOption,
    /// The payment method chosen.
    pub payment: PaymentMethod,
}

impl KindPayload for Order {
    const REFS: &'static [RefRule] = &[
        RefRule::event(Rel::Listing, 1, 1),
        RefRule::identity(Rel::Seller, 1, 1),
    ];

    fn validate(&self, meta: &Meta<'_>) -> Result<(), EventError> {
        if self.quantity == 0 {
            return Err(EventError::field("quantity", "must be at least 1"));
        }
        if meta.identities(Rel::Seller).any(|k| &k == meta.author) {
            return Err(EventError::RefsInvalid(
                "a seller cannot order from themself".into(),
            ));
        }
        Ok(())
    }
}

/// The states of a trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum TradeState {
    Ordered,
    Accepted,
    Declined,
    Paid,
    PaymentConfirmed,
    Shipped,
    Delivered,
    Completed,
    Cancelled,
    Disputed,
    Resolved,
}

/// A party to a trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Party {
    /// The author of the order.
    Buyer,
    /// The author of the listing.
    Seller,
}

impl Party {
    /// The party's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Party::Buyer => "buyer",
            Party::Seller => "seller",
        }
    }
}

impl TradeState {
    /// Every state, in the order of the spec's table (their place in this
    /// list is their one-byte code in the store; it only grows at the end).
    pub const ALL: [TradeState; 11] = [
        TradeState::Ordered,
        TradeState::Accepted,
        TradeState::Declined,
        TradeState::Paid,
        TradeState::PaymentConfirmed,
        TradeState::Shipped,
        TradeState::Delivered,
        TradeState::Completed,
        TradeState::Cancelled,
        TradeState::Disputed,
        TradeState::Resolved,
    ];

    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            TradeState::Ordered => "ordered",
            TradeState::Accepted => "accepted",
            TradeState::Declined => "declined",
            TradeState::Paid => "paid",
            TradeState::PaymentConfirmed => "payment_confirmed",
            TradeState::Shipped => "shipped",
            TradeState::Delivered => "delivered",
            TradeState::Completed => "completed",
            TradeState::Cancelled => "cancelled",
            TradeState::Disputed => "disputed",
            TradeState::Resolved => "resolved",
        }
    }

    /// Whether no step can follow.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TradeState::Declined
                | TradeState::Completed
                | TradeState::Cancelled
                | TradeState::Resolved
        )
    }

    /// The state machine: may `by` move a trade from `self` to `to`?
    /// The table is `specs/trades.md#state-machine`.
    pub fn transition(self, to: TradeState, by: Party) -> Result<TradeState, AuthError> {
        use Party::{Buyer, Seller};
        use TradeState::*;
        let allowed = match (self, to) {
            (Ordered, Accepted | Declined) => by == Seller,
            (Accepted, Paid) => by == Buyer,
            (Accepted | Paid, PaymentConfirmed) => by == Seller,
            (PaymentConfirmed, Shipped) => by == Seller,
            (PaymentConfirmed | Shipped, Delivered) => by == Buyer,
            (Delivered, Completed) => true,
            (Ordered | Accepted | Paid | PaymentConfirmed, Cancelled) => true,
            (Paid | PaymentConfirmed | Shipped | Delivered, Disputed) => true,
            (Disputed, Resolved) => true,
            _ => false,
        };
        if allowed {
            Ok(to)
        } else {
            Err(AuthError::TradeTransition {
                from: self.name(),
                to: to.name(),
                by: by.name(),
            })
        }
    }
}

/// One step of the trade named by the `order` reference, following the `prev` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TradeUpdate {
    /// The state the trade moves to.
    pub state: TradeState,
    /// A note to the other party.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Shipment tracking reference (only with `shipped`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking: Option<String>,
}

impl KindPayload for TradeUpdate {
    const REFS: &'static [RefRule] = &[
        RefRule::event(Rel::Order, 1, 1),
        RefRule::event(Rel::Prev, 1, 1),
    ];

    fn validate(&self, _meta: &Meta<'_>) -> Result<(), EventError> {
        if self.state == TradeState::Ordered {
            return Err(EventError::field(
                "state",
                "a trade starts with an order, not an update",
            ));
        }
        check::opt_text("note", &self.note, MAX_NOTE_BYTES)?;
        check::opt_text("tracking", &self.tracking, 200)?;
        if self.tracking.is_some() && self.state != TradeState::Shipped {
            return Err(EventError::field(
                "tracking",
                "only a `shipped` step carries tracking",
            ));
        }
        Ok(())
    }
}

/// A review of the `subject`, the other party of the completed trade `order`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// 1 to 5 stars.
    pub rating: u8,
    /// What the reviewer says.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
}

impl KindPayload for Review {
    const REFS: &'static [RefRule] = &[
        RefRule::event(Rel::Order, 1, 1),
        RefRule::identity(Rel::Subject, 1, 1),
    ];

    fn validate(&self, meta: &Meta<'_>) -> Result<(), EventError> {
        if !(1..=5).contains(&self.rating) {
            return Err(EventError::field("rating", "from 1 to 5"));
        }
        check::text("text", &self.text, MAX_REVIEW_BYTES)?;
        subject_not_author(meta)
    }
}

#[cfg(test)]
mod tests {
    use super::Party::*;
    use super::TradeState::*;

    #[test]
    fn category_tree_is_valid_and_parents_come_first() {
        for (i, c) in super::CATEGORIES.iter().enumerate() {
            super::check_category(c.path).unwrap();
            if let Some((parent, _)) = c.path.rsplit_once('/') {
                assert!(
                    super::CATEGORIES[..i].iter().any(|p| p.path == parent),
                    "{}",
                    c.path
                );
            }
        }
    }

    #[test]
    fn prices_display_with_minor_units() {
        let p = |amount, currency: &str| super::Price {
            amount,
            currency: currency.into(),
        };
        assert_eq!(p(1250, "EUR").display(), "12.50 EUR");
        assert_eq!(p(5, "EUR").display(), "0.05 EUR");
        assert_eq!(p(1500, "JPY").display(), "1500 JPY");
        assert_eq!(p(1234, "KWD").display(), "1.234 KWD");
    }

    #[test]
    fn happy_path_with_shipping() {
        let mut s = Ordered;
        for (to, by) in [
            (Accepted, Seller),
            (Paid, Buyer),
            (PaymentConfirmed, Seller),
            (Shipped, Seller),
            (Delivered, Buyer),
            (Completed, Buyer),
        ] {
            s = s.transition(to, by).unwrap();
        }
        assert!(s.is_final());
    }

    #[test]
    fn wrong_party_and_out_of_order_are_refused() {
        assert!(Ordered.transition(Accepted, Buyer).is_err());
        assert!(Accepted.transition(Paid, Seller).is_err());
        assert!(Ordered.transition(Shipped, Seller).is_err());
        assert!(Shipped.transition(Cancelled, Buyer).is_err());
        assert!(Ordered.transition(Disputed, Buyer).is_err());
        for end in [Declined, Completed, Cancelled, Resolved] {
            for to in [Accepted, Paid, Completed, Cancelled, Disputed] {
                assert!(end.transition(to, Buyer).is_err() && end.transition(to, Seller).is_err());
            }
        }
    }
}
