use super::*;

fn now() -> Timestamp {
    "2026-03-01T12:00:00Z".parse().unwrap()
}

fn read(text: &str, format: Format) -> Vec<Result<Item, ImportError>> {
    read_items(text.as_bytes(), format, now()).collect()
}

fn errors(results: &[Result<Item, ImportError>]) -> Vec<(u64, String)> {
    results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .map(|e| (e.line, e.message.clone()))
        .collect()
}

fn ids(results: &[Result<Item, ImportError>]) -> Vec<&str> {
    results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|i| i.product_id.as_str())
        .collect()
}

#[test]
fn formats_come_from_extensions() {
    assert_eq!(Format::from_path(Path::new("a/b.CSV")), Some(Format::Csv));
    assert_eq!(
        Format::from_path(Path::new("items.ndjson")),
        Some(Format::Ndjson)
    );
    assert_eq!(
        Format::from_path(Path::new("items.jsonl")),
        Some(Format::Ndjson)
    );
    assert_eq!(Format::from_path(Path::new("items.json")), None);
    assert_eq!(Format::from_path(Path::new("items")), None);
}

#[test]
fn csv_maps_known_columns_and_keeps_the_others_as_attributes() {
    let text = "\u{feff}Product_ID,Name,Price,stock,Color,Material\n\
                sku-1,Red Shoe,19.99,3,red,\n\
                sku-2,\"Blue, Shoe\",,0,blue,leather\n";
    let results = read(text, Format::Csv);
    assert_eq!(errors(&results), vec![]);
    let items: Vec<&Item> = results.iter().map(|r| r.as_ref().unwrap()).collect();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].product_id, "sku-1");
    assert_eq!(items[0].price, Some(19.99));
    assert_eq!(items[0].stock, Some(3));
    assert_eq!(items[0].attributes["Color"], "red");
    assert!(
        !items[0].attributes.contains_key("Material"),
        "empty cells are not given"
    );
    assert_eq!(items[1].name.as_deref(), Some("Blue, Shoe"));
    assert_eq!(items[1].price, None);
    assert!(!items[1].available());
    assert_eq!(items[1].attributes["Material"], "leather");
    assert_eq!(items[1].updated_at, now());
}

#[test]
fn csv_reports_bad_rows_by_line_and_keeps_the_rest() {
    let text = "product_id,price,url\n\
                a,1,https://x.example/a\n\
                b,abc,\n\
                \"c\nstill c\",2,\n\
                ,3,\n\
                d,4,/relative\n\
                e,5,,extra\n\
                ,,\n\
                f,6\n";
    let results = read(text, Format::Csv);
    assert_eq!(ids(&results), vec!["a", "c\nstill c", "f"]);
    let errs = errors(&results);
    assert_eq!(
        errs.iter().map(|e| e.0).collect::<Vec<_>>(),
        vec![3, 6, 7, 8]
    );
    assert_eq!(errs[0].1, "`price`: expected a number >= 0, got \"abc\"");
    assert!(
        errs[1].1.contains("`product_id`: is missing"),
        "{}",
        errs[1].1
    );
    assert!(errs[2].1.contains("`url`"), "{}", errs[2].1);
    assert!(errs[3].1.contains("column 4"), "{}", errs[3].1);
    assert_eq!(
        errors(&results)
            .iter()
            .map(|(l, m)| ImportError::new(*l, m.clone()).to_string())
            .next()
            .unwrap(),
        "line 3: `price`: expected a number >= 0, got \"abc\""
    );
}

#[test]
fn csv_needs_a_header_with_product_id() {
    let results = read("sku,price\na,1\n", Format::Csv);
    assert_eq!(results.len(), 1, "nothing is read without the id column");
    let (line, message) = &errors(&results)[0];
    assert_eq!(*line, 1);
    assert!(message.contains("no `product_id` column"), "{message}");
    assert!(message.contains("`sku`, `price`"), "{message}");

    let results = read("", Format::Csv);
    assert!(errors(&results)[0].1.contains("the file is empty"));

    let results = read("product_id,price,PRICE\na,1,2\n", Format::Csv);
    assert!(errors(&results)[0].1.contains("`price` twice"));

    let results = read("product_id,name,\na,x,\nb,y,oops\n", Format::Csv);
    assert_eq!(ids(&results), vec!["a"]);
    assert!(errors(&results)[0].1.contains("no name in the header row"));
}

#[test]
fn csv_reports_invalid_utf8_per_row() {
    let mut bytes = b"product_id,name\na,ok\nb,".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    bytes.extend_from_slice(b"\nc,fine\n");
    let results: Vec<_> = read_items(&bytes[..], Format::Csv, now()).collect();
    assert_eq!(ids(&results), vec!["a", "c"]);
    assert_eq!(errors(&results)[0].0, 3);
    assert!(errors(&results)[0].1.contains("UTF-8"));
}

#[test]
fn ndjson_reads_each_line_and_reports_bad_ones() {
    let text = "{\"product_id\":\"a\",\"price\":1}\n\
                \n\
                {\"product_id\":\"b\",\"price\":\r\n\
                {\"product_id\":\"c\",\"colour\":\"red\"}\n\
                [1,2]\n\
                   \n\
                {\"product_id\":7,\"stock\":2,\"attributes\":{\"size\":42}}\r\n\
                {\"product_id\":\"d\"}";
    let results = read(text, Format::Ndjson);
    assert_eq!(ids(&results), vec!["a", "7", "d"]);
    let errs = errors(&results);
    assert_eq!(errs.iter().map(|e| e.0).collect::<Vec<_>>(), vec![3, 4, 5]);
    assert!(
        errs[0].1.starts_with("malformed JSON at column"),
        "{}",
        errs[0].1
    );
    assert!(!errs[0].1.contains("at line"), "{}", errs[0].1);
    assert!(
        errs[1].1.starts_with("`colour`: unknown field"),
        "{}",
        errs[1].1
    );
    assert!(
        errs[2].1.contains("expected a JSON object"),
        "{}",
        errs[2].1
    );
    let seven = results
        .iter()
        .flatten()
        .find(|i| i.product_id == "7")
        .unwrap();
    assert_eq!(seven.attributes["size"], 42);
}

#[test]
fn ndjson_handles_a_bom_and_invalid_utf8() {
    let mut bytes = "\u{feff}{\"product_id\":\"a\"}\n".as_bytes().to_vec();
    bytes.extend_from_slice(&[b'{', 0xff, b'}', b'\n']);
    bytes.extend_from_slice(b"{\"product_id\":\"b\"}\n");
    let results: Vec<_> = read_items(&bytes[..], Format::Ndjson, now()).collect();
    assert_eq!(ids(&results), vec!["a", "b"]);
    assert_eq!(errors(&results)[0].0, 2);
}

/// A reader that fails after some bytes, as a broken network file would.
struct Failing<'a>(&'a [u8]);

impl Read for Failing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0.is_empty() {
            return Err(std::io::Error::other("connection reset"));
        }
        let n = buf.len().min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn reading_stops_at_an_io_error() {
    for format in [Format::Csv, Format::Ndjson] {
        let text: &[u8] = match format {
            Format::Csv => b"product_id\na\n",
            Format::Ndjson => b"{\"product_id\":\"a\"}\n",
        };
        let results: Vec<_> = read_items(Failing(text), format, now()).collect();
        assert_eq!(ids(&results), vec!["a"], "{format:?}");
        let errs = errors(&results);
        assert_eq!(errs.len(), 1, "{format:?}: {errs:?}");
        assert!(errs[0].1.contains("connection reset"), "{errs:?}");
    }
}
