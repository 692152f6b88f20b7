"""Recorded outputs of lighter-sdk 1.1.8's signer library made with an injected nonce k (the
library run under gdb, `getrandom` overwritten; tests/data/signer-vectors.json, signer-spec §6):
what the self-check reproduces byte for byte, signature included. Test keys, public data.
UpdateLeverage / UpdateMargin were recorded the same way (signer-spec §6 item 5's gdb recipe)."""

# ruff: noqa: E501

from typing import Any, Final

PRIVATE_KEY: Final = (
    "0xef805f31736d419c0ffa95d9f54b7eb3ae5638a8665299843bc2a50b2ed10e9b0102030405060708"
)
PUBLIC_KEY: Final = (
    "0xac38259c80acdae62e19ae036edf07e59353e14bd1b489e0354781576377e28e878c4a907cd1b239"
)

TRANSACTIONS: Final[list[dict[str, Any]]] = [
    {
        "kind": "create_order",
        "account_index": 1234,
        "chain_id": 304,
        "k": 1,
        "expired_at": 1795480713333,
        "attributes": None,
        "kwargs": {
            "market_index": 0,
            "client_order_index": 7,
            "base_amount": 1000,
            "price": 300000,
            "is_ask": 0,
            "order_type": 0,
            "time_in_force": 1,
            "reduce_only": 0,
            "trigger_price": 0,
            "order_expiry": 1797898697405,
            "nonce": 5,
            "api_key_index": 3,
        },
        "tx_info": '{"AccountIndex":1234,"ApiKeyIndex":3,"MarketIndex":0,"ClientOrderIndex":7,"BaseAmount":1000,"Price":300000,"IsAsk":0,"Type":0,"TimeInForce":1,"ReduceOnly":0,"TriggerPrice":0,"OrderExpiry":1797898697405,"ExpiredAt":1795480713333,"Nonce":5,"Sig":"DTX9izFWuxcPyWZyEWx7K5xfDAtqx0ObnC+9sBKk0kHCgABxt3juDT6oOefspUl9Z584nbA8j6JlhvpXez9ocpj7EAxOHmsNwbA65td6N0w=","L2TxAttributes":null}',
        "tx_hash": "0d3efc38e06bd490115b6b4cba9550f4cec5eb5c6d9bc8a10b96b117d3bd706cccf32fec0e675d4e",
    },
    {
        "kind": "cancel_order",
        "account_index": 1234,
        "chain_id": 304,
        "k": 826855744913228699066865593187893356723050064555343528016130734000468495618151143336293639639900,
        "expired_at": 1795480713451,
        "attributes": None,
        "kwargs": {
            "market_index": 0,
            "order_index": 281474976710656,
            "nonce": 8,
            "api_key_index": 3,
        },
        "tx_info": '{"AccountIndex":1234,"ApiKeyIndex":3,"MarketIndex":0,"Index":281474976710656,"ExpiredAt":1795480713451,"Nonce":8,"Sig":"raML/Fq9BMh++fPmMckNr3Ci0OR7LSh8KPTcDbTz6Vbgjmyi8vNpQ1c4QCw13+gxXN8iw0zhAbdYoXYa4E1TGCAD04HTlbyXB6fnAgffonE=","L2TxAttributes":null}',
        "tx_hash": "a1479bb46c87d5b4692488a2b3a6a48669113ecd34fb6245d5bbdcf32a2483bc2c3268a6bbd423fc",
    },
    {
        "kind": "modify_order",
        "account_index": 1234,
        "chain_id": 304,
        "k": 122266878527713388007727616239504503145187003828523673564841032585105335734422992819118827496318,
        "expired_at": 1795480713485,
        "attributes": {"8": 4},
        "kwargs": {
            "market_index": 0,
            "order_index": 281474976710656,
            "base_amount": 500,
            "price": 310000,
            "trigger_price": 0,
            "nonce": 9,
            "api_key_index": 3,
        },
        "tx_info": '{"AccountIndex":1234,"ApiKeyIndex":3,"MarketIndex":0,"Index":281474976710656,"BaseAmount":500,"Price":310000,"TriggerPrice":0,"ExpiredAt":1795480713485,"Nonce":9,"Sig":"Gi1PqtG7oGFZVSxgSdiPGyF4YdvtDBCDFPUUZe7KyNESTCTX3DSuYH4yfEErXiYNApzUOaXKhH/43ahV3ts1QWdnPqJod9Nqhl8mLBjEbkI=","L2TxAttributes":{"8":4}}',
        "tx_hash": "be941896e856cc2a4b5e983e021544418fe8aafdd49aefd1b871c01ddc5fd3d7802891ea61f71bb2",
    },
    {
        "kind": "cancel_all_orders",
        "account_index": 1234,
        "chain_id": 304,
        "k": 852815053706457332765505186966006584431105376225815051910077267723723699727728562043678262162953,
        "expired_at": 1795480713517,
        "attributes": {"5": 3},
        "kwargs": {"time_in_force": 0, "time": 0, "nonce": 10, "api_key_index": 3},
        "tx_info": '{"AccountIndex":1234,"ApiKeyIndex":3,"TimeInForce":0,"Time":0,"ExpiredAt":1795480713517,"Nonce":10,"Sig":"3nkahpeAT0NYdzvC6ls+8TFO6lGcOTyz44Ehqgeg/SguBShEzYh3ZTe2N7YX6Wbg/QA4cvB65DmKeZwFVhDgmDmIZ/fMC7D6f355yf3bQDc=","L2TxAttributes":{"5":3}}',
        "tx_hash": "099b5cd487270dfa07e705818b3506a521cb9e7e10731081e14cdf44390c3e8ea7387cf10fbb2863",
    },
    {
        "kind": "create_grouped_orders",
        "account_index": 1234,
        "chain_id": 304,
        "k": 493459050815786533476488412116171769360735290622395166983866799655011800543725160789922991431199,
        "expired_at": 1795480713553,
        "attributes": None,
        "kwargs": {
            "grouping_type": 3,
            "orders": [
                {
                    "market_index": 1,
                    "client_order_index": 31,
                    "base_amount": 100,
                    "price": 5000,
                    "is_ask": 0,
                    "order_type": 0,
                    "time_in_force": 1,
                    "reduce_only": 0,
                    "trigger_price": 0,
                    "order_expiry": 1797898697405,
                },
                {
                    "market_index": 1,
                    "client_order_index": 32,
                    "base_amount": 0,
                    "price": 4000,
                    "is_ask": 1,
                    "order_type": 2,
                    "time_in_force": 0,
                    "reduce_only": 1,
                    "trigger_price": 4000,
                    "order_expiry": 1797898697405,
                },
                {
                    "market_index": 1,
                    "client_order_index": 33,
                    "base_amount": 0,
                    "price": 6000,
                    "is_ask": 1,
                    "order_type": 4,
                    "time_in_force": 0,
                    "reduce_only": 1,
                    "trigger_price": 6000,
                    "order_expiry": 1797898697405,
                },
            ],
            "nonce": 11,
            "api_key_index": 3,
        },
        "tx_info": '{"AccountIndex":1234,"ApiKeyIndex":3,"GroupingType":3,"Orders":[{"MarketIndex":1,"ClientOrderIndex":31,"BaseAmount":100,"Price":5000,"IsAsk":0,"Type":0,"TimeInForce":1,"ReduceOnly":0,"TriggerPrice":0,"OrderExpiry":1797898697405},{"MarketIndex":1,"ClientOrderIndex":32,"BaseAmount":0,"Price":4000,"IsAsk":1,"Type":2,"TimeInForce":0,"ReduceOnly":1,"TriggerPrice":4000,"OrderExpiry":1797898697405},{"MarketIndex":1,"ClientOrderIndex":33,"BaseAmount":0,"Price":6000,"IsAsk":1,"Type":4,"TimeInForce":0,"ReduceOnly":1,"TriggerPrice":6000,"OrderExpiry":1797898697405}],"ExpiredAt":1795480713553,"Nonce":11,"Sig":"31Iq86EnXOiwEAkqM3sw/YNOpCzNLSNbqs8mdoj3/5IH+pP17J3YfghF2uxB7E3Gqnp65MdkFSAd3xWSERsxcAtYcvnYlKupFKqOBMT0Kg8=","L2TxAttributes":null}',
        "tx_hash": "b638d1f4583d7220e51f3ca6927b06be42003dad90e1573943e71ee783e2d21be401cf2bce56cf86",
    },
    {
        "kind": "update_leverage",
        "account_index": 1234,
        "chain_id": 304,
        "k": 3,
        "expired_at": 1796194627715,
        "attributes": None,
        "kwargs": {
            "market_index": 0,
            "initial_margin_fraction": 2000,
            "margin_mode": 1,
            "nonce": 9,
            "api_key_index": 3,
        },
        "tx_info": '{"AccountIndex":1234,"ApiKeyIndex":3,"MarketIndex":0,"InitialMarginFraction":2000,"MarginMode":1,"ExpiredAt":1796194627715,"Nonce":9,"Sig":"W9WRqlkyqLvP/QpEZUl7OMlga3boH5Yus1iSWjDZvnGRWLyOonD2fHCql2MsNBIp8GSyoY3/kuojepouhWXqJKuMoLSPfO0ZtHD70clkBVk=","L2TxAttributes":null}',
        "tx_hash": "f0193e540d3a5484ec903389ab024f5c2efaf2d352447d531b1234cf278de7b20860d6cab0067266",
    },
    {
        "kind": "update_margin",
        "account_index": 1234,
        "chain_id": 304,
        "k": 355997838905715650347161638857264234248352580193909076719713228395254027518066206442764139495413,
        "expired_at": 1796194627721,
        "attributes": None,
        "kwargs": {
            "market_index": 2048,
            "usdc_amount": 1099511640121,
            "direction": 0,
            "nonce": 10,
            "api_key_index": 3,
        },
        "tx_info": '{"AccountIndex":1234,"ApiKeyIndex":3,"MarketIndex":2048,"USDCAmount":1099511640121,"Direction":0,"ExpiredAt":1796194627721,"Nonce":10,"Sig":"SDy6LyvRbytpPxUJmLiGSpUzx/PnSBbLYzKds1/X5D888VM9Nfs3MPU6SNAndoQFOzvC+gbCHqKeL556qF92IlqZ+UQ0YJMDFxKRCGiSvk4=","L2TxAttributes":null}',
        "tx_hash": "211c9f631fa791b849607c8db42dccaf0db6e5d2d78aeede7882f2e1946e694e3e773fda9c0c2008",
    },
]

AUTH_TOKEN: Final[dict[str, Any]] = {
    "deadline": 1700000000,
    "api_key_index": 3,
    "account_index": 1234,
    "k": 525746016290947161960244524566129358663954894448575319989551153481543613635426867740468072611073,
    "token": "1700000000:1234:3:ce08db1a8dabf03fad90bfea13c8ad1bf9f8428a25a64fb2c89802fe56060e4c2fa4e187c222bc527d836c4c10e614261f11bdf2cedc9e1acda4acb870ac2bc3a9158b22722be847cd93fbfe3f3a4c5b",
}
