//! The shop's product catalog: about 500 products across eight categories.
//!
//! Recommendations and "viewed together" segments need structure to find, so the catalog is not
//! uniform: within a category a few products are much more popular than the rest (views follow a
//! head-heavy curve), and every product has a companion in a related category (running shoes and a
//! fitness tracker, a cookbook and a skillet) that people often look at next.

use crate::rng::{Rng, hash};
use crate::session::ORIGIN;

/// One product for sale.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Product {
    /// Stable id, e.g. `prod_1042`.
    pub id: String,
    pub name: String,
    /// Category slug, e.g. `shoes`; also the first segment of the product's URL path.
    pub category: String,
    pub brand: String,
    /// Price in US dollars.
    pub price: f64,
    /// The product page.
    pub url: String,
    /// The product's picture.
    pub image_url: String,
    /// Units in stock when the catalog was exported: best sellers run low, a few are sold out.
    pub stock: i64,
}

struct CategorySpec {
    slug: &'static str,
    title: &'static str,
    sku: &'static str,
    brands: &'static [&'static str],
    adjectives: &'static [&'static str],
    nouns: &'static [&'static str],
    /// Cheapest and dearest list price, in cents.
    cents: (u64, u64),
    /// Index of the related category companions are drawn from.
    companion: usize,
    /// Whether product names start with the brand (not for books, whose brand is the publisher).
    brand_in_name: bool,
}

const PER_CATEGORY: usize = 63;

const CATEGORIES: [CategorySpec; 8] = [
    CategorySpec {
        slug: "shoes",
        title: "Shoes",
        sku: "SHO",
        brands: &[
            "Stridewell",
            "Northpeak",
            "Velo",
            "Marlow & Finch",
            "Kestrel",
        ],
        adjectives: &[
            "Trail",
            "Classic",
            "Cloudstep",
            "Urban",
            "Tempo",
            "Summit",
            "Breeze",
            "Canvas",
            "Leather",
            "Featherlight",
        ],
        nouns: &[
            "Running Shoe",
            "Sneaker",
            "Hiking Boot",
            "Loafer",
            "Sandal",
            "Chelsea Boot",
            "Slip-On",
            "High-Top",
        ],
        cents: (2_999, 21_999),
        companion: 6,
        brand_in_name: true,
    },
    CategorySpec {
        slug: "apparel",
        title: "Apparel",
        sku: "APP",
        brands: &[
            "Oak & Thread",
            "Lumen",
            "Fjordline",
            "Mercer Supply",
            "Aster",
        ],
        adjectives: &[
            "Organic",
            "Relaxed",
            "Merino",
            "Oversized",
            "Slim",
            "Linen",
            "Quilted",
            "Everyday",
            "Heritage",
            "Waxed",
        ],
        nouns: &[
            "T-Shirt",
            "Hoodie",
            "Jacket",
            "Chinos",
            "Sweater",
            "Rain Shell",
            "Flannel Shirt",
            "Jeans",
            "Vest",
        ],
        cents: (1_499, 24_999),
        companion: 0,
        brand_in_name: true,
    },
    CategorySpec {
        slug: "electronics",
        title: "Electronics",
        sku: "ELE",
        brands: &["Voltaic", "Arcwave", "Nimbus", "Pixelforge", "Soundry"],
        adjectives: &[
            "Wireless",
            "Noise-Cancelling",
            "Smart",
            "Portable",
            "4K",
            "Compact",
            "Pro",
            "Ultra",
            "Mini",
            "Rugged",
        ],
        nouns: &[
            "Headphones",
            "Speaker",
            "Fitness Tracker",
            "Smartwatch",
            "E-Reader",
            "Action Camera",
            "Power Bank",
            "Webcam",
            "Keyboard",
        ],
        cents: (1_999, 89_999),
        companion: 3,
        brand_in_name: true,
    },
    CategorySpec {
        slug: "books",
        title: "Books",
        sku: "BOK",
        brands: &[
            "Larkspur Press",
            "Quillhouse",
            "Meridian Books",
            "Paper Moon",
        ],
        adjectives: &[
            "The Quiet",
            "A Field Guide to",
            "The Art of",
            "Cooking with",
            "The Last",
            "Notes on",
            "Mastering",
            "The Hidden",
            "Everyday",
            "Wild",
        ],
        nouns: &[
            "Garden",
            "Mountains",
            "Bread",
            "Focus",
            "Stars",
            "Code",
            "Ocean",
            "Running",
            "Design",
            "Coffee",
        ],
        cents: (899, 4_999),
        companion: 4,
        brand_in_name: false,
    },
    CategorySpec {
        slug: "home",
        title: "Home & Kitchen",
        sku: "HOM",
        brands: &["Hearthly", "Cedar & Clay", "Nordhaus", "Pantry Co."],
        adjectives: &[
            "Cast Iron",
            "Ceramic",
            "Stoneware",
            "Bamboo",
            "Copper",
            "Enamel",
            "Woven",
            "Glass",
            "Walnut",
            "Linen",
        ],
        nouns: &[
            "Skillet",
            "Dutch Oven",
            "Mug Set",
            "Cutting Board",
            "Throw Blanket",
            "Table Lamp",
            "Pour-Over Kettle",
            "Planter",
            "Knife Set",
        ],
        cents: (1_299, 29_999),
        companion: 3,
        brand_in_name: true,
    },
    CategorySpec {
        slug: "beauty",
        title: "Beauty",
        sku: "BEA",
        brands: &["Petal & Pine", "Lumiere", "Saltwater", "Verdant Lab"],
        adjectives: &[
            "Hydrating",
            "Vitamin C",
            "Gentle",
            "Overnight",
            "Mineral",
            "Botanical",
            "Revitalising",
            "Fragrance-Free",
            "Clay",
            "Rose",
        ],
        nouns: &[
            "Face Serum",
            "Moisturiser",
            "Cleanser",
            "Sunscreen SPF 50",
            "Lip Balm",
            "Body Lotion",
            "Face Mask",
            "Eye Cream",
        ],
        cents: (799, 8_999),
        companion: 4,
        brand_in_name: true,
    },
    CategorySpec {
        slug: "sports",
        title: "Sports & Outdoors",
        sku: "SPO",
        brands: &[
            "Ridgeline",
            "Peakform",
            "Tidewater",
            "Ironclad Athletics",
            "Basecamp",
        ],
        adjectives: &[
            "Ultralight",
            "Adjustable",
            "Insulated",
            "Foldable",
            "Carbon",
            "Waterproof",
            "Pro-Grip",
            "Trail",
            "Compact",
            "All-Season",
        ],
        nouns: &[
            "Yoga Mat",
            "Dumbbell Set",
            "Tent",
            "Water Bottle",
            "Backpack",
            "Bike Helmet",
            "Trekking Poles",
            "Sleeping Bag",
            "Jump Rope",
        ],
        cents: (999, 39_999),
        companion: 2,
        brand_in_name: true,
    },
    CategorySpec {
        slug: "toys",
        title: "Toys & Games",
        sku: "TOY",
        brands: &[
            "Brightblock",
            "Tinker Toad",
            "Little Orbit",
            "Gamewright Hollow",
        ],
        adjectives: &[
            "Wooden",
            "Magnetic",
            "Deluxe",
            "Junior",
            "Cooperative",
            "Glow-in-the-Dark",
            "Classic",
            "Pocket",
            "Giant",
            "Musical",
        ],
        nouns: &[
            "Building Set",
            "Puzzle",
            "Board Game",
            "Train Set",
            "Plush Bear",
            "Science Kit",
            "Card Game",
            "Marble Run",
        ],
        cents: (999, 14_999),
        companion: 3,
        brand_in_name: true,
    },
];

/// Number of product categories.
pub(crate) const CATEGORY_COUNT: usize = CATEGORIES.len();

/// A product with what the generator needs besides its public fields.
pub(crate) struct Item {
    pub product: Product,
    pub sku: String,
    /// URL path below the shop's root, e.g. `shoes/stridewell-trail-running-shoe`.
    pub path: String,
    pub cents: u64,
    pub category: usize,
    /// A product in a related category that viewers of this one often look at next.
    pub companion: usize,
}

/// The catalog as the generator uses it.
pub(crate) struct Catalog {
    pub items: Vec<Item>,
    /// Item indices per category, most popular first.
    by_category: Vec<Vec<usize>>,
}

/// Category slug (`shoes`) and display title (`Shoes`).
pub(crate) fn category_names(category: usize) -> (&'static str, &'static str) {
    let spec = &CATEGORIES[category];
    (spec.slug, spec.title)
}

fn slugify(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    slug
}

impl Catalog {
    pub(crate) fn new(seed: u64) -> Self {
        let mut rng = Rng::stream(seed, 0x0CA7_A106, 0);
        let mut items = Vec::with_capacity(CATEGORIES.len() * PER_CATEGORY);
        let mut names = std::collections::HashSet::new();
        for (category, spec) in CATEGORIES.iter().enumerate() {
            for _ in 0..PER_CATEGORY {
                let (brand, name) = loop {
                    let brand = rng.pick(spec.brands);
                    let (adjective, noun) = (rng.pick(spec.adjectives), rng.pick(spec.nouns));
                    let name = if spec.brand_in_name {
                        format!("{brand} {adjective} {noun}")
                    } else {
                        format!("{adjective} {noun}")
                    };
                    if names.insert(name.clone()) {
                        break (brand, name);
                    }
                };
                // A squared uniform puts most prices at the cheap end, as in real shops.
                let (lo, hi) = spec.cents;
                let raw = lo + ((hi - lo) as f64 * rng.unit() * rng.unit()) as u64;
                let cents = raw / 100 * 100 + 99;
                let number = 1_000 + items.len();
                let path = format!("{}/{}", spec.slug, slugify(&name));
                // From a hash rather than the stream, so that adding stock left every other
                // draw (and so every generated history) as it was.
                let h = hash(seed, 0x570C, number as u64, 0);
                let stock = match h % 20 {
                    0 => 0,
                    1..=3 => 1 + (h >> 8) as i64 % 5,
                    _ => 10 + (h >> 8) as i64 % 200,
                };
                items.push(Item {
                    product: Product {
                        id: format!("prod_{number}"),
                        name,
                        category: spec.slug.to_owned(),
                        brand: brand.to_owned(),
                        price: cents as f64 / 100.0,
                        url: format!("{ORIGIN}/{path}"),
                        image_url: format!("{ORIGIN}/images/prod_{number}.jpg"),
                        stock,
                    },
                    sku: format!("{}-{number}-{:02}", spec.sku, rng.below(100)),
                    path,
                    cents,
                    category,
                    companion: 0,
                });
            }
        }
        let by_category: Vec<Vec<usize>> = (0..CATEGORIES.len())
            .map(|c| (c * PER_CATEGORY..(c + 1) * PER_CATEGORY).collect())
            .collect();
        let mut catalog = Catalog { items, by_category };
        for i in 0..catalog.items.len() {
            let related = CATEGORIES[catalog.items[i].category].companion;
            catalog.items[i].companion = catalog.popular(related, &mut rng);
        }
        catalog
    }

    /// A product of `category`, favouring the category's best sellers.
    pub(crate) fn popular(&self, category: usize, rng: &mut Rng) -> usize {
        let list = &self.by_category[category];
        // u^2.5 concentrates roughly half of all draws on the top tenth of the list.
        let u = rng.unit();
        let skew = u * u * u.sqrt();
        list[(skew * list.len() as f64) as usize]
    }
}

/// The deterministic product catalog the generator uses for `seed`.
pub fn catalog(seed: u64) -> Vec<Product> {
    Catalog::new(seed)
        .items
        .into_iter()
        .map(|item| item.product)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_is_deterministic_and_varied() {
        let a = catalog(1);
        assert_eq!(a, catalog(1));
        assert_ne!(a, catalog(2));
        assert!((450..=550).contains(&a.len()));
        let ids: std::collections::HashSet<_> = a.iter().map(|p| &p.id).collect();
        assert_eq!(ids.len(), a.len());
        for slug in [
            "shoes",
            "apparel",
            "electronics",
            "books",
            "home",
            "beauty",
            "sports",
            "toys",
        ] {
            assert!(
                a.iter().filter(|p| p.category == slug).count() > 40,
                "{slug}"
            );
        }
        assert!(a.iter().all(|p| p.price > 1.0 && p.price < 1_000.0));
    }

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(
            slugify("Marlow & Finch Cloudstep High-Top"),
            "marlow-finch-cloudstep-high-top"
        );
        let c = Catalog::new(3);
        assert!(c.items.iter().all(|i| {
            i.path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'/')
        }));
    }
}
